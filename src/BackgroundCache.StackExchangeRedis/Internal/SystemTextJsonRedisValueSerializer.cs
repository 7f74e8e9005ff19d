using System.Text.Json;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>The default serializer: System.Text.Json.</summary>
internal sealed class SystemTextJsonRedisValueSerializer<T> : IRedisValueSerializer<T>
{
    public byte[] Serialize(T value) => JsonSerializer.SerializeToUtf8Bytes(value);

    public T Deserialize(byte[] data) =>
        JsonSerializer.Deserialize<T>(data) ?? throw new InvalidDataException("Redis holds a null value.");
}
