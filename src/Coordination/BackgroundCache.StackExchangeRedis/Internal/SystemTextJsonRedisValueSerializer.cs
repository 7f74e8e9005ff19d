using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>
/// The default serializer: System.Text.Json, with source-generated metadata for <see cref="AccessToken"/>, strings and
/// numbers (trimming- and AOT-safe). Other types use reflection where the app allows it; a trimmed or native AOT app
/// registers an <see cref="IRedisValueSerializer{T}"/> (e.g. over its own <see cref="JsonSerializerContext"/>).
/// </summary>
internal sealed class SystemTextJsonRedisValueSerializer<T> : IRedisValueSerializer<T>
{
    private readonly JsonTypeInfo<T> _info = Resolve();

    public byte[] Serialize(T value) => JsonSerializer.SerializeToUtf8Bytes(value, _info);

    public T Deserialize(byte[] data) =>
        JsonSerializer.Deserialize(data, _info) ?? throw new InvalidDataException("Redis holds a null value.");

    private static JsonTypeInfo<T> Resolve()
    {
        if (RedisJsonContext.Default.GetTypeInfo(typeof(T)) is JsonTypeInfo<T> generated)
        {
            return generated;
        }

        if (!JsonSerializer.IsReflectionEnabledByDefault)
        {
            throw new InvalidOperationException(
                $"Redis coordination cannot serialize {typeof(T).Name} in this app (reflection-based JSON is disabled, as in trimmed and native AOT apps): register an IRedisValueSerializer<{typeof(T).Name}>, e.g. over a source-generated JsonSerializerContext.");
        }

        return ReflectionInfo();
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Reached only when reflection-based JSON is enabled (not in trimmed or AOT apps, which get the clear error above).")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "Reached only when reflection-based JSON is enabled (not in trimmed or AOT apps, which get the clear error above).")]
    private static JsonTypeInfo<T> ReflectionInfo()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.General) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
        return (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T));
    }
}

/// <summary>Source-generated JSON metadata of the values the library itself stores.</summary>
[JsonSerializable(typeof(AccessToken))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(decimal))]
[JsonSerializable(typeof(double))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(DateTimeOffset))]
internal sealed partial class RedisJsonContext : JsonSerializerContext;
