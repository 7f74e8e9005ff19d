namespace BackgroundCache.StackExchangeRedis;

/// <summary>
/// Turns a cached value into the bytes stored in Redis and back. Register an implementation in DI to replace the default
/// (System.Text.Json).
/// </summary>
/// <typeparam name="T">The type of the cached value.</typeparam>
public interface IRedisValueSerializer<T>
{
    /// <summary>Serializes a value.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The bytes to store.</returns>
    byte[] Serialize(T value);

    /// <summary>Deserializes a value.</summary>
    /// <param name="data">The stored bytes.</param>
    /// <returns>The value.</returns>
    T Deserialize(byte[] data);
}
