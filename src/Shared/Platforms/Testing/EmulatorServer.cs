using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.Platforms.Testing;

/// <summary>The Kestrel server of a platform emulator: <c>127.0.0.1</c>, a free port unless one is given, no logging.</summary>
internal static class EmulatorServer
{
    /// <summary>Builds the app, lets <paramref name="map"/> add the endpoints, starts it and returns its base address.</summary>
    public static async Task<(WebApplication App, Uri BaseAddress)> StartAsync(int port, Action<WebApplication> map, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        map(app);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address.EndsWith('/') ? address : address + "/"));
    }

    /// <summary>Stops and disposes the app.</summary>
    public static async ValueTask StopAsync(WebApplication app)
    {
        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }
}
