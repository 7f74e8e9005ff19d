namespace BackgroundCache.Internal;

/// <summary>Readable type names for default names and messages: <c>Dictionary&lt;String,Int32&gt;</c>, not <c>Dictionary`2</c>.</summary>
internal static class TypeNames
{
    public static string Of(Type type)
    {
        if (!type.IsGenericType)
        {
            return type.Name;
        }

        var name = type.Name;
        var tick = name.IndexOf('`', StringComparison.Ordinal);
        return $"{(tick < 0 ? name : name[..tick])}<{string.Join(",", type.GetGenericArguments().Select(Of))}>";
    }
}
