using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace BackgroundCache.AspNetCore;

/// <summary>Reads the body of a push to an event URL as UTF-8, never more than a limit (WeChat Open Platform, WeCom suites).</summary>
internal static class EventRequestBody
{
    /// <summary>Returns the body, or null when it is larger than <paramref name="maxBytes"/> (answer 413).</summary>
    public static async Task<string?> ReadAsync(HttpContext context, int maxBytes)
    {
        var request = context.Request;
        if (request.ContentLength > maxBytes)
        {
            return null;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes;
        }

        var buffer = new byte[maxBytes + 1];
        var total = 0;
        try
        {
            int read;
            while (total < buffer.Length && (read = await request.Body.ReadAsync(buffer.AsMemory(total), context.RequestAborted).ConfigureAwait(false)) > 0)
            {
                total += read;
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return null;
        }

        return total > maxBytes ? null : Encoding.UTF8.GetString(buffer, 0, total);
    }
}
