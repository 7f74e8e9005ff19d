using BackgroundCache.Samples.Worker;

// The "existing project" integration: exchange rates refreshed in the background and mirrored into
// IMemoryCache, where the rest of the app already reads them.
var host = WorkerApp.Build(args);
await host.RunAsync();
