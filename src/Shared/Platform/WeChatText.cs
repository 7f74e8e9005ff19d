using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace BackgroundCache.Platform;

/// <summary>
/// Makes text that WeChat sends back (<c>errmsg</c>) safe to copy into exceptions, logs, health reports and status pages:
/// an echoed AppSecret is redacted, in any obvious encoding, and the text is bounded.
/// </summary>
internal static partial class WeChatText
{
    /// <summary>The longest <c>errmsg</c> kept; WeChat's own are under 100 characters (a request id included).</summary>
    public const int MaxErrorMessageLength = 256;

    /// <summary>What replaces an echoed secret.</summary>
    public const string Redacted = "***";

    /// <summary>What replaces an errmsg that still carries the secret after redaction (an encoding mix not listed here).</summary>
    public const string Withheld = "(errmsg withheld: it echoed the AppSecret)";

    /// <summary>Redacts <paramref name="secret"/> from <paramref name="errorMessage"/>, then truncates it to <see cref="MaxErrorMessageLength"/>.</summary>
    /// <remarks>Redaction comes first: truncating first could cut a secret in two and leave half of it unredacted.</remarks>
    public static string SanitizeErrorMessage(string errorMessage, string? secret)
    {
        var text = string.IsNullOrEmpty(secret) ? errorMessage : Redact(errorMessage, secret);
        return Truncate(text, MaxErrorMessageLength);
    }

    /// <summary>Cuts <paramref name="text"/> to <paramref name="max"/> characters, saying how much was cut; never splits a surrogate pair.</summary>
    public static string Truncate(string text, int max)
    {
        if (text.Length <= max)
        {
            return text;
        }

        var cut = max;
        if (char.IsHighSurrogate(text[cut - 1]))
        {
            cut--;
        }

        return string.Concat(text.Substring(0, cut), "… (", (text.Length - cut).ToString(CultureInfo.InvariantCulture), " more characters)");
    }

    /// <summary>
    /// Replaces <paramref name="secret"/> as written, percent-encoded (partly or fully, either case of hex), form-encoded,
    /// HTML-encoded, base64 and hex; if the decoded text still contains it, withholds the whole text.
    /// </summary>
    public static string Redact(string text, string secret)
    {
        if (text.Length == 0 || secret.Length == 0)
        {
            return text;
        }

        foreach (var form in Encodings(secret))
        {
            if (form.Length > 0)
            {
                text = text.Replace(form, Redacted, StringComparison.OrdinalIgnoreCase);
            }
        }

        if (!ContainsDecoded(text, secret))
        {
            return text;
        }

        // An encoding mix (some characters escaped, or escaped twice): redact each word that decodes to the secret.
        var words = Delimiters().Split(text);
        var redacted = new StringBuilder(text.Length);
        foreach (var word in words)
        {
            redacted.Append(word.Length > 0 && !Delimiters().IsMatch(word) && ContainsDecoded(word, secret) ? Redacted : word);
        }

        text = redacted.ToString();
        return ContainsDecoded(text, secret) ? Withheld : text;
    }


    private static IEnumerable<string> Encodings(string secret)
    {
        var bytes = Encoding.UTF8.GetBytes(secret);
        var everyByte = new StringBuilder(bytes.Length * 3);
        foreach (var b in bytes)
        {
            everyByte.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }

        // Longest first, so a form that contains another is replaced whole.
        return new[]
        {
            everyByte.ToString(),
            Uri.EscapeDataString(Uri.EscapeDataString(secret)),
            Uri.EscapeDataString(secret),
            WebUtility.UrlEncode(secret),
            WebUtility.HtmlEncode(secret),
            Convert.ToHexString(bytes, 0, bytes.Length),
            Convert.ToBase64String(bytes),
            Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_'),
            secret,
        }.Distinct(StringComparer.OrdinalIgnoreCase).OrderByDescending(f => f.Length);
    }

    /// <summary>Decodes percent, form and HTML encodings (a few rounds, for double encoding) and looks for the secret.</summary>
    private static bool ContainsDecoded(string text, string secret)
    {
        var current = text;
        for (var round = 0; round < 3; round++)
        {
            if (current.Contains(secret, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            string decoded;
            try
            {
                decoded = WebUtility.HtmlDecode(WebUtility.UrlDecode(current));
            }
            catch (ArgumentException)
            {
                return false;
            }

            if (decoded == current)
            {
                return false;
            }

            current = decoded;
        }

        return current.Contains(secret, StringComparison.OrdinalIgnoreCase);
    }

    private const string DelimitersPattern = @"([\s,;&=""'()<>\[\]{}|]+)";

#if NETSTANDARD2_0
    private static readonly Regex DelimitersRegex = new(DelimitersPattern, RegexOptions.CultureInvariant | RegexOptions.Compiled, TimeSpan.FromSeconds(1));

    /// <summary>Splits text into words, keeping the delimiters (whitespace, punctuation that ends a value in a query or JSON).</summary>
    private static Regex Delimiters() => DelimitersRegex;
#else
    /// <summary>Splits text into words, keeping the delimiters (whitespace, punctuation that ends a value in a query or JSON).</summary>
    [GeneratedRegex(DelimitersPattern, RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Delimiters();
#endif
}
