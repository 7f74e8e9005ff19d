using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace BackgroundCache.Coordination;

/// <summary>
/// A set's keys as text in a shared store: strings as they are; GUIDs, enums and numbers in invariant form. The keys a
/// coordinator exchanges with <see cref="ICoordinatedValues{T}"/> are in this form.
/// </summary>
public static class CoordinationKeys
{
    /// <summary>Gets a value indicating whether keys of a type can be shared (formatted and parsed back): strings, GUIDs, enums and numbers.</summary>
    /// <typeparam name="TKey">The key type.</typeparam>
    /// <returns><see langword="true"/> when keys of <typeparamref name="TKey"/> can be shared.</returns>
    public static bool IsSupported<TKey>()
        where TKey : notnull => Support<TKey>.IsSupported;

    /// <summary>Formats a key for the store.</summary>
    /// <typeparam name="TKey">The key type.</typeparam>
    /// <param name="key">The key.</param>
    /// <returns>The key as text.</returns>
    public static string Format<TKey>(TKey key)
        where TKey : notnull => key switch
    {
        string text => text,
        Guid guid => guid.ToString("D"),
        Enum value => value.ToString(),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => key.ToString() ?? string.Empty,
    };

    /// <summary>Parses a key that <see cref="Format{TKey}"/> formatted.</summary>
    /// <typeparam name="TKey">The key type.</typeparam>
    /// <param name="text">The key as text.</param>
    /// <param name="key">The key, when the text parses.</param>
    /// <returns><see langword="true"/> when the text parses as a key of this type.</returns>
    public static bool TryParse<TKey>(string text, [MaybeNullWhen(false)] out TKey key)
        where TKey : notnull
    {
        object? parsed = null;
        if (typeof(TKey) == typeof(string))
        {
            parsed = text;
        }
        else if (typeof(TKey) == typeof(Guid))
        {
            parsed = Guid.TryParse(text, out var guid) ? guid : null;
        }
        else if (typeof(TKey).IsEnum)
        {
            try
            {
                parsed = Enum.Parse(typeof(TKey), text);
            }
            catch (ArgumentException)
            {
                parsed = null;
            }
        }
        else if (Support<TKey>.IsSupported)
        {
            try
            {
                parsed = Convert.ChangeType(text, typeof(TKey), CultureInfo.InvariantCulture);
            }
            catch (Exception ex) when (ex is FormatException or OverflowException or InvalidCastException)
            {
                parsed = null;
            }
        }

        if (parsed is TKey typed)
        {
            key = typed;
            return true;
        }

        key = default;
        return false;
    }

    private static class Support<TKey>
    {
        public static readonly bool IsSupported =
            typeof(TKey) == typeof(string) || typeof(TKey) == typeof(Guid) || typeof(TKey).IsEnum
            || (typeof(TKey).IsPrimitive && typeof(IConvertible).IsAssignableFrom(typeof(TKey))) || typeof(TKey) == typeof(decimal);
    }
}
