using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.Testing;

/// <summary>The emulators' web host: Kestrel on 127.0.0.1 (a free port when 0), no logging.</summary>
internal static class LoopbackHost
{
    public static WebApplication Create(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        return builder.Build();
    }

    /// <summary>Starts the host and returns its base address, ending with a slash.</summary>
    public static async Task<Uri> StartAsync(WebApplication app, CancellationToken cancellationToken)
    {
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.EndsWith('/') ? address : address + "/");
    }
}
