using System.Runtime.Versioning;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace BackgroundCache.OAuth.Tests;

/// <summary>What the netstandard2.0 build cannot do, said at start rather than at the first token call.</summary>
public sealed class NetStandardLimitsTests
{
    [Fact]
    public void BuildUnderTest_IsTheNetStandardOne() =>
        typeof(ClientCredentialsOptions).Assembly.GetCustomAttributes(typeof(TargetFrameworkAttribute), false)
            .Cast<TargetFrameworkAttribute>().Single().FrameworkName.Should().StartWith(".NETStandard,Version=v2.0");

    [Fact]
    public async Task PrivateKeyPem_FailsAtStartNamingCertificateInstead()
    {
        using var rsa = RSA.Create(2048);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddClientCredentialsToken("billing", o =>
        {
            o.TokenEndpoint = new Uri("https://idp.example.com/token");
            o.ClientId = "billing";
            o.ClientAuthentication = ClientAuthenticationMethod.PrivateKeyJwt;
            o.PrivateKey = rsa.ExportPkcs8PrivateKeyPem();
        });
        using var host = builder.Build();

        var failure = await FluentActions.Awaiting(() => host.StartAsync()).Should().ThrowAsync<OptionsValidationException>();

        failure.Which.Message.Should().Contain("PrivateKey (PEM) needs .NET 5 or later").And.Contain("Certificate");
    }
}
