using BackgroundCache.Samples.OpenPlatform;

// A WeChat Open Platform third-party platform: receives the pushed component_verify_ticket on its event URL, keeps the
// component token and every authorizer's token fresh. With no ComponentAppSecret configured it runs offline against an
// in-process WeChat emulator that pushes tickets every 10 minutes and authorizes the demo accounts.
var app = await OpenPlatformApp.BuildAsync(args);
await app.RunAsync();
