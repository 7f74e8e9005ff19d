using BackgroundCache.Samples.BusinessServer;

// A business server: it never calls cgi-bin/token itself. It reads the token from the central hub,
// and calls WeChat APIs through an HttpClient that attaches the token and recovers from 40001.
var app = BusinessServerApp.Build(args);
await app.RunAsync();
