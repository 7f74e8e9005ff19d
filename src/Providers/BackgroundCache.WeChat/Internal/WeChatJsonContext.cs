using System.Text.Json.Serialization;

namespace BackgroundCache.WeChat.Internal;

/// <summary>Source-generated JSON metadata of what the package writes (trimming- and AOT-safe).</summary>
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class WeChatJsonContext : JsonSerializerContext;
