using BackgroundCache.TokenHub.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.TokenHub;

/// <summary>
/// Returned by <c>AddTokenHub</c>: the hub's services and apps, for optional further configuration.
/// </summary>
public sealed class TokenHubBuilder
{
    private readonly TokenHubRegistry _registry;

    internal TokenHubBuilder(IServiceCollection services, TokenHubRegistry registry)
    {
        Services = services;
        _registry = registry;
    }

    /// <summary>Gets the service collection the hub was added to.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Gets the names of the apps the hub serves, as configured at registration.</summary>
    public IReadOnlyList<string> AppNames => _registry.AppNames;

    /// <summary>
    /// Serves <paramref name="app"/> from an emulator of its provider (for instance <c>BackgroundCache.WeChat.Testing</c>'s
    /// <c>WeChatEmulator</c> for a WeChat or WeChatOpenPlatform app) instead of the real API: its token calls go to
    /// <paramref name="baseAddress"/> (for a ClientCredentials app, the emulated token endpoint) with <paramref name="appSecret"/>. Allowed in Development, or elsewhere with <c>TokenHub:UseEmulator=true</c>; the status
    /// page and every answer for the app say that its tokens are emulated.
    /// </summary>
    /// <param name="app">The app's name (a key of <c>TokenHub:Apps</c>).</param>
    /// <param name="baseAddress">The emulator's address.</param>
    /// <param name="appSecret">The secret the emulator knows the app by.</param>
    /// <returns>This builder, so that additional calls can be chained.</returns>
    /// <exception cref="ArgumentException"><paramref name="app"/> is not one of the hub's apps.</exception>
    public TokenHubBuilder WithEmulatedApp(string app, Uri baseAddress, string appSecret)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(baseAddress);
        ArgumentException.ThrowIfNullOrEmpty(appSecret);
        if (!_registry.IsApp(app))
        {
            throw new ArgumentException($"'{app}' is not an app of the token hub (TokenHub:Apps has: {string.Join(", ", _registry.AppNames)}).", nameof(app));
        }

        _registry.MarkEmulated(app, baseAddress);
        _registry.Provider(app).Emulate(Services, app, baseAddress, appSecret);
        return this;
    }
}
