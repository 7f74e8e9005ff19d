using System.Xml.Linq;

namespace BackgroundCache.Tests;

/// <summary>
/// Dependencies point one way (docs/architecture.md): the core references no package; every other product package
/// references only the core and the packages of its own family (<c>BackgroundCache.WeChat.AspNetCore</c> → <c>BackgroundCache.WeChat</c>),
/// so the Redis package knows no provider and a provider knows no Redis; only the hub, an application, composes them.
/// </summary>
public sealed class DependencyDirectionTests
{
    private const string Core = "BackgroundCache";

    /// <summary>Packages that compose others (applications of the library), allowed to reference any product package.</summary>
    private static readonly HashSet<string> Composers = new(StringComparer.Ordinal) { "BackgroundCache.TokenHub" };

    [Fact]
    public void ProductPackages_ReferenceOnlyTheCoreAndTheirOwnFamily()
    {
        var violations = new List<string>();
        var packages = ProductProjects().ToList();
        foreach (var (name, references) in packages)
        {
            if (Composers.Contains(name))
            {
                continue;
            }

            foreach (var reference in references)
            {
                var allowed = name != Core && (reference == Core || Family(reference) == Family(name));
                if (!allowed)
                {
                    violations.Add($"{name} → {reference}");
                }
            }
        }

        packages.Select(p => p.Name).Should().Contain(["BackgroundCache", "BackgroundCache.StackExchangeRedis", "BackgroundCache.WeChat"]);
        violations.Should().BeEmpty("a package may reference only the core and its own family; a bridge between a provider and Redis goes through the core's abstractions (BackgroundCache.Stores, ITokenCacheGroupBuilder)");
    }

    [Theory]
    [InlineData("BackgroundCache.StackExchangeRedis", "BackgroundCache.StackExchangeRedis", true)]
    [InlineData("BackgroundCache.WeChat.AspNetCore", "BackgroundCache.WeChat", true)]
    [InlineData("BackgroundCache.StackExchangeRedis", "BackgroundCache.WeChat", false)]
    [InlineData("BackgroundCache.WeChat", "BackgroundCache.StackExchangeRedis", false)]
    public void Family_SameSecondSegment_IsOneFamily(string a, string b, bool same) =>
        (Family(a) == Family(b)).Should().Be(same);

    private static string Family(string package)
    {
        var parts = package.Split('.');
        return parts.Length > 1 ? parts[1] : string.Empty;
    }

    private static IEnumerable<(string Name, List<string> References)> ProductProjects()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "BackgroundCache.sln")))
        {
            root = root.Parent;
        }

        root.Should().NotBeNull("the tests run inside the repository");
        foreach (var project in Directory.EnumerateFiles(Path.Combine(root!.FullName, "src"), "*.csproj", SearchOption.AllDirectories))
        {
            var references = XDocument.Load(project).Descendants("ProjectReference")
                .Select(r => Path.GetFileNameWithoutExtension(r.Attribute("Include")!.Value.Replace('\\', '/')))
                .ToList();
            yield return (Path.GetFileNameWithoutExtension(project), references);
        }
    }
}
