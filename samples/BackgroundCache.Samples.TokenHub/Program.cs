using BackgroundCache.Samples.TokenHub;

// The central control server WeChat recommends: one process refreshes each app's token and every
// business server reads it from here. With no AppSecret configured it runs against an in-process
// WeChat emulator, offline.
var app = await TokenHubApp.BuildAsync(args);
await app.RunAsync();
