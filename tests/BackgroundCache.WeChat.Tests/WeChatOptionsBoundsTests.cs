using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace BackgroundCache.WeChat.Tests;

public sealed class WeChatOptionsBoundsTests
{
    [Theory]
    [InlineData("FetchBreakerWindow", "10")]
    [InlineData("FetchBreakerDuration", "5")]
    public async Task StartAsync_BreakerSettingBoundAsDays_FailsNamingTheSettingAndTheFormat(string setting, string configured)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["WeChat:AppId"] = "wx1",
            ["WeChat:AppSecret"] = "secret",
            [$"WeChat:{setting}"] = configured,
        }).Build();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddWeChatAccessToken("shop", config.GetSection("WeChat"));
        using var host = builder.Build();

        var act = () => host.StartAsync();

        (await act.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should()
            .Contain($"WeChatOptions.{setting} must be at most 1 day")
            .And.Contain("'shop'")
            .And.Contain("hh:mm:ss");
    }
}
