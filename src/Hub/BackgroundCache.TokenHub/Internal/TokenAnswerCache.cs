using System.Collections.Concurrent;
using System.Text.Json;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>
/// The serialized answer of <c>GET /tokens/{name}</c>, per app: the same bytes are served until the token changes or its
/// <c>expires_in</c> moves to the next second, so a busy hub serializes each app's answer about once a second instead of
/// once a request (issue #24's throughput goal). Holds nothing the cache does not already hold: the current token's answer.
/// </summary>
internal sealed class TokenAnswerCache
{
    private readonly ConcurrentDictionary<string, Answer> _answers = new(StringComparer.Ordinal);

    /// <summary>Gets the answer's UTF-8 JSON for <paramref name="token"/> with <paramref name="expiresIn"/> seconds left.</summary>
    public byte[] Get(string name, AccessToken token, long expiresIn, bool? emulated)
    {
        if (_answers.TryGetValue(name, out var answer) && answer.Matches(token, expiresIn, emulated))
        {
            return answer.Bytes;
        }

        var bytes = JsonSerializer.SerializeToUtf8Bytes(new TokenAnswer(token.Value, token.ExpiresAt, expiresIn, emulated), TokenHubJsonContext.Default.TokenAnswer);
        _answers[name] = new Answer(token, expiresIn, emulated, bytes);
        return bytes;
    }

    private sealed class Answer(AccessToken token, long expiresIn, bool? emulated, byte[] bytes)
    {
        public byte[] Bytes { get; } = bytes;

        // The same token object (a refresh publishes a new one), the same second, the same emulation flag.
        public bool Matches(AccessToken current, long currentExpiresIn, bool? currentEmulated) =>
            ReferenceEquals(token, current) && expiresIn == currentExpiresIn && emulated == currentEmulated;
    }
}
