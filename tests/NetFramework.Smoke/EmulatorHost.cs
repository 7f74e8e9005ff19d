#:project ../../src/Providers/BackgroundCache.WeChat.Testing/BackgroundCache.WeChat.Testing.csproj
#:property TreatWarningsAsErrors=true
#:property PublishAot=false
using BackgroundCache.WeChat.Testing;

// Starts the WeChat emulator on 127.0.0.1 with one app, prints "<base address> <app id> <app secret>" on one line,
// and serves until stdin closes; then prints the token calls it answered.
const string AppId = "wx00000000005e0ce";
const string AppSecret = "smoke-secret";
var options = new WeChatEmulatorOptions();
options.Apps[AppId] = AppSecret;
await using var emulator = await WeChatEmulator.StartAsync(options);
Console.WriteLine($"{emulator.BaseAddress} {AppId} {AppSecret}");
await Console.In.ReadToEndAsync();
Console.Error.WriteLine($"emulator answered {emulator.TokenCalls} token call(s), {emulator.ApiCalls} API call(s), {emulator.RejectedApiCalls} rejected");
