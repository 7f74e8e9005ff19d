using System;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using BackgroundCache;
using BackgroundCache.WeChat;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// Usage: NetFramework.Smoke.exe <emulator base address> <app id> <app secret>
// Loads a WeChat token through the netstandard2.0 build, calls a protected API with it through the token handler,
// forces a refresh and calls another API, and exits 0; anything else exits 1.
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: NetFramework.Smoke <emulator base address> <app id> <app secret>");
    return 2;
}

try
{
    Console.WriteLine($"Runtime: {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}");
    var builder = Host.CreateApplicationBuilder();
    builder.Logging.SetMinimumLevel(LogLevel.Warning);
    builder.Services.AddWeChatAccessToken("demo", o =>
    {
        o.AppId = args[1];
        o.AppSecret = args[2];
        o.BaseAddress = new Uri(args[0]);
    });
    builder.Services.AddHttpClient("wechat-api", c => c.BaseAddress = new Uri(args[0])).AddWeChatAccessTokenHandler("demo");

    using var host = builder.Build();
    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
    await host.StartAsync(timeout.Token);

    var cache = host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>("demo");
    var first = await cache.GetAsync(timeout.Token);
    Console.WriteLine($"Token {first.Fingerprint} loaded; status: {cache.Status.State}");

    var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("wechat-api");
    var answer = await client.GetStringAsync("cgi-bin/getcallbackip");
    if (!answer.Contains("ip_list"))
    {
        throw new InvalidOperationException("The protected API rejected the token: " + answer);
    }

    Console.WriteLine("Protected API call with the token: ok");

    // A forced refresh goes upstream again (stable_token mode keeps the same token until it nears expiry).
    var second = await cache.RefreshAsync(timeout.Token);
    answer = await client.GetStringAsync("cgi-bin/get_api_domain_ip");
    if (!answer.Contains("ip_list"))
    {
        throw new InvalidOperationException("The protected API rejected the refreshed token: " + answer);
    }

    Console.WriteLine($"Refreshed: {second.Fingerprint}, expires {second.ExpiresAt:O}; status: {cache.Status.State}");
    await host.StopAsync(timeout.Token);
    Console.WriteLine("SMOKE OK");
    return 0;
}
catch (Exception ex)
{
    Console.Error.WriteLine("SMOKE FAILED: " + ex);
    return 1;
}
