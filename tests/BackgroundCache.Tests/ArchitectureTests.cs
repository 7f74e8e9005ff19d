using System.Xml.Linq;

namespace BackgroundCache.Tests;

/// <summary>
/// Keeps the dependencies docs/architecture.md allows: every project under src/ references only the projects listed for
/// it here, and no product package sees another's internals. A new package must be added here, on purpose.
/// </summary>
public sealed class ArchitectureTests
{
    /// <summary>The references each package may have (docs/architecture.md, "What may depend on what").</summary>
    private static readonly Dictionary<string, string[]> AllowedReferences = new(StringComparer.Ordinal)
    {
        // Engine and coordination seam: depends on nothing of ours.
        ["BackgroundCache"] = [],

        // Providers: the core only. Their add-ons: their provider.
        ["BackgroundCache.WeChat"] = ["BackgroundCache"],
        ["BackgroundCache.WeChat.AspNetCore"] = ["BackgroundCache", "BackgroundCache.WeChat"],
        ["BackgroundCache.WeChat.Testing"] = ["BackgroundCache", "BackgroundCache.WeChat"],

        ["BackgroundCache.OAuth"] = ["BackgroundCache"],

        ["BackgroundCache.DingTalk"] = ["BackgroundCache"],
        ["BackgroundCache.DingTalk.Testing"] = ["BackgroundCache", "BackgroundCache.DingTalk"],
        ["BackgroundCache.Douyin"] = ["BackgroundCache"],
        ["BackgroundCache.Douyin.Testing"] = ["BackgroundCache", "BackgroundCache.Douyin"],
        ["BackgroundCache.WeCom"] = ["BackgroundCache"],
        ["BackgroundCache.WeCom.AspNetCore"] = ["BackgroundCache", "BackgroundCache.WeCom"],
        ["BackgroundCache.WeCom.Testing"] = ["BackgroundCache", "BackgroundCache.WeCom"],
        ["BackgroundCache.Feishu"] = ["BackgroundCache"],
        ["BackgroundCache.Feishu.AspNetCore"] = ["BackgroundCache", "BackgroundCache.Feishu"],
        ["BackgroundCache.Feishu.Testing"] = [],

        // Coordination and durable stores: the core only; a store knows no provider (the Open Platform keeps its tickets and
        // refresh tokens in the core's provider-neutral BackgroundCache.Stores interfaces).
        ["BackgroundCache.StackExchangeRedis"] = ["BackgroundCache"],

        // The hub: the core, providers and coordination stores.
        ["BackgroundCache.TokenHub"] = ["BackgroundCache", "BackgroundCache.WeChat", "BackgroundCache.WeChat.AspNetCore", "BackgroundCache.OAuth", "BackgroundCache.WeCom", "BackgroundCache.Feishu", "BackgroundCache.DingTalk", "BackgroundCache.Douyin", "BackgroundCache.StackExchangeRedis"],
    };

    public static TheoryData<string> Packages() => [.. PackageProjects().Select(p => Path.GetFileNameWithoutExtension(p))];

    [Theory]
    [MemberData(nameof(Packages))]
    public void ProjectReferences_OfEachPackage_AreOnlyThoseItsLayerAllows(string package)
    {
        AllowedReferences.Should().ContainKey(package, "every package under src/ has its allowed references listed in ArchitectureTests (see docs/architecture.md)");

        var references = ProjectReferences(ProjectFile(package));

        references.Should().BeSubsetOf(AllowedReferences[package], $"{package} may reference only what docs/architecture.md allows");
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void InternalsVisibleTo_OfEachPackage_NamesNoProductPackage(string package)
    {
        var friends = Items(ProjectFile(package), "InternalsVisibleTo");

        // Test assemblies and the benchmarks may see internals; a package builds on another's public API.
        friends.Where(f => !f.EndsWith(".Tests", StringComparison.Ordinal) && f != "BackgroundCache.Benchmarks")
            .Should().BeEmpty($"{package} lets no product package see its internals");
    }

    private static IEnumerable<string> PackageProjects() =>
        Directory.EnumerateFiles(Path.Combine(RepositoryRoot(), "src"), "*.csproj", SearchOption.AllDirectories).Order(StringComparer.Ordinal);

    private static string ProjectFile(string package) => PackageProjects().Single(p => Path.GetFileNameWithoutExtension(p) == package);

    private static string[] ProjectReferences(string project) =>
        [.. Items(project, "ProjectReference").Select(r => Path.GetFileNameWithoutExtension(r.Replace('\\', '/')))];

    private static string[] Items(string project, string item) =>
        [.. XDocument.Load(project).Descendants(item).Select(e => (string?)e.Attribute("Include")).OfType<string>()];

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "BackgroundCache.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("BackgroundCache.sln not found above " + AppContext.BaseDirectory);
    }
}
