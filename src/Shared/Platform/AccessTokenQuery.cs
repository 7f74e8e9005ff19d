namespace BackgroundCache.Platform;

/// <summary>
/// The <c>?access_token=</c> convention of WeChat and WeCom APIs, for the token-attaching handlers: put the token into a
/// request's query, and read the errcode of an answer without consuming its body.
/// </summary>
internal static class AccessTokenQuery
{
    public static Uri WithToken(Uri uri, string token)
    {
        var builder = new UriBuilder(uri);
        var query = builder.Query.TrimStart('?');
        var kept = query.Length == 0
            ? []
            : query.Split('&').Where(p => p.Length > 0 && !p.StartsWith("access_token=", StringComparison.Ordinal) && p != "access_token");
        builder.Query = string.Join("&", kept.Append("access_token=" + Uri.EscapeDataString(token)));
        return builder.Uri;
    }

    /// <summary>The errcode of a small JSON (or text) answer, or 0; the body is buffered so the caller can still read it.</summary>
    public static async Task<int> PeekErrorCodeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode || response.Content.Headers.ContentLength is > PlatformJson.MaxBodyBytes)
        {
            return 0;
        }

        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (mediaType is not null && !mediaType.Contains("json", StringComparison.OrdinalIgnoreCase) && !mediaType.StartsWith("text/plain", StringComparison.OrdinalIgnoreCase))
        {
            return 0;
        }

        // Buffering keeps the body readable for the caller.
        await response.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        return PlatformJson.PeekErrorCode(body);
    }
}
