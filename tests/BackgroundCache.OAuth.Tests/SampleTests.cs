using BackgroundCache.Samples.OAuth;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BackgroundCache.OAuth.Tests;

public sealed class SampleTests
{
    [Fact]
    public async Task OAuthWorker_InDevelopment_CallsTheProtectedApiWithATokenFromOpenIddict()
    {
        await using var app = await OAuthWorkerApp.StartAsync(["--environment", "Development"]);
        var worker = app.Host.Services.GetServices<IHostedService>().OfType<InvoiceWorker>().Single();

        var answer = await worker.FirstAnswer.WaitAsync(TimeSpan.FromSeconds(30));

        answer.Should().Contain(DevelopmentIdentityProvider.SecretClientId).And.Contain(DevelopmentIdentityProvider.Scope);
        app.IdentityProvider!.TokenRequests.Should().Be(1);
    }
}
