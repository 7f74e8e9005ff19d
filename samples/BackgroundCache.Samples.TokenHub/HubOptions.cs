namespace BackgroundCache.Samples.TokenHub;

/// <summary>The sample's own settings beside the package's (section "TokenHub").</summary>
public sealed class HubOptions
{
    public const string SectionName = "TokenHub";

    /// <summary>Gets or sets the loopback port of the in-process emulator (0: any free port).</summary>
    public int EmulatorPort { get; set; } = 5081;

    /// <summary>Gets or sets a value indicating whether apps without an AppSecret may be emulated outside Development.</summary>
    public bool UseEmulator { get; set; }

    /// <summary>Gets the apps, to see which have no AppSecret (the package reads the rest).</summary>
    public Dictionary<string, AppSecretOnly> Apps { get; } = new(StringComparer.Ordinal);

    public sealed class AppSecretOnly
    {
        public string AppId { get; set; } = string.Empty;

        public string? AppSecret { get; set; }
    }
}
