using Microsoft.Extensions.Options;

namespace BackgroundCache.Internal;

/// <summary>
/// <see cref="OptionsFactory{TOptions}"/> with the configure actions indexed by name. The runtime's factory runs every
/// <see cref="IConfigureOptions{TOptions}"/> for every name (each checks the name itself), so N caches with a
/// <c>Configure&lt;RefreshingCacheOptions&gt;(name, …)</c> each cost N² calls at start: 10,000 caches took 2-3 s of CPU and
/// 30,000 took 17 s (issue #21). Here a <see cref="ConfigureNamedOptions{TOptions}"/> runs only for its name; every other
/// configure action (<c>ConfigureAll</c>, options bound from configuration, actions with dependencies) runs for every name
/// as before, in registration order, so the result is the runtime factory's.
/// </summary>
/// <typeparam name="TOptions">The options type.</typeparam>
internal sealed class NamedOptionsFactory<TOptions> : IOptionsFactory<TOptions>
    where TOptions : class, new()
{
    private readonly Dictionary<string, List<(int Order, IConfigureOptions<TOptions> Setup)>> _named = new(StringComparer.Ordinal);
    private readonly List<(int Order, IConfigureOptions<TOptions> Setup)> _everyName = [];
    private readonly IPostConfigureOptions<TOptions>[] _postConfigures;
    private readonly IValidateOptions<TOptions>[] _validations;

    public NamedOptionsFactory(
        IEnumerable<IConfigureOptions<TOptions>> setups,
        IEnumerable<IPostConfigureOptions<TOptions>> postConfigures,
        IEnumerable<IValidateOptions<TOptions>> validations)
    {
        var order = 0;
        foreach (var setup in setups)
        {
            if (setup is ConfigureNamedOptions<TOptions> { Name: { } name })
            {
                if (!_named.TryGetValue(name, out var list))
                {
                    _named[name] = list = [];
                }

                list.Add((order, setup));
            }
            else
            {
                _everyName.Add((order, setup));
            }

            order++;
        }

        _postConfigures = [.. postConfigures];
        _validations = [.. validations];
    }

    /// <inheritdoc />
    public TOptions Create(string name)
    {
        var options = new TOptions();
        _named.TryGetValue(name, out var named);
        var n = 0;
        var e = 0;
        var namedCount = named?.Count ?? 0;
        while (n < namedCount || e < _everyName.Count)
        {
            // Merge the two lists by registration order: a later action overrides an earlier one, whichever list it is in.
            var setup = e >= _everyName.Count || (n < namedCount && named![n].Order < _everyName[e].Order)
                ? named![n++].Setup
                : _everyName[e++].Setup;
            if (setup is IConfigureNamedOptions<TOptions> namedSetup)
            {
                namedSetup.Configure(name, options);
            }
            else if (string.Equals(name, Options.DefaultName, StringComparison.Ordinal))
            {
                setup.Configure(options);
            }
        }

        foreach (var post in _postConfigures)
        {
            post.PostConfigure(name, options);
        }

        if (_validations.Length > 0)
        {
            var failures = new List<string>();
            foreach (var validation in _validations)
            {
                var result = validation.Validate(name, options);
                if (result is { Failed: true })
                {
                    failures.AddRange(result.Failures);
                }
            }

            if (failures.Count > 0)
            {
                throw new OptionsValidationException(name, typeof(TOptions), failures);
            }
        }

        return options;
    }
}
