using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace BackgroundCache.Internal;

/// <summary>
/// A set's keys as text in a shared store: strings as they are; GUIDs, enums and numbers in invariant form.
/// </summary>
/// <typeparam name="TKey">The key type.</typeparam>
internal static class CoordinationKeys<TKey>
    where TKey : notnull
{
    /// <summary>Gets a value indicating whether keys of this type can be shared (formatted and parsed back).</summary>
    public static bool IsSupported { get; } =
        typeof(TKey) == typeof(string) || typeof(TKey) == typeof(Guid) || typeof(TKey).IsEnum
        || (typeof(TKey).IsPrimitive && typeof(IConvertible).IsAssignableFrom(typeof(TKey))) || typeof(TKey) == typeof(decimal);

    public static string Format(TKey key) => key switch
    {
        string text => text,
        Guid guid => guid.ToString("D"),
        Enum value => value.ToString(),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => key.ToString() ?? string.Empty,
    };

    public static bool TryParse(string text, [MaybeNullWhen(false)] out TKey key)
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
        else if (IsSupported)
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
}
