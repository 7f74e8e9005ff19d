using System.Xml;
using System.Xml.Linq;

namespace BackgroundCache.Platform;

/// <summary>Why a callback push was refused.</summary>
internal enum CallbackProblem
{
    None,
    Malformed,
    InvalidSignature,
    Undecryptable,
    WrongReceiver,
}

/// <summary>
/// Opens a push in WeChat's (and WeCom's) callback format: the XML envelope's <c>Encrypt</c>, <c>msg_signature</c> checked
/// with the Token, decrypted with the EncodingAESKey, and the receiver id sealed inside (AppId, SuiteId, CorpId) checked.
/// </summary>
internal static class CallbackEnvelope
{
    public static (XElement? Envelope, XElement? Message, CallbackProblem Problem, string Detail) Open(
        string token, byte[] key, Func<string?, bool> isReceiver, string msgSignature, string timestamp, string nonce, string body, int maxBytes)
    {
        if (string.IsNullOrEmpty(msgSignature) || string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(nonce) || string.IsNullOrEmpty(body))
        {
            return (null, null, CallbackProblem.Malformed, "msg_signature, timestamp, nonce and a body are required.");
        }

        if (body.Length > maxBytes)
        {
            return (null, null, CallbackProblem.Malformed, $"the body is larger than {maxBytes} bytes.");
        }

        var envelope = ParseXml(body, maxBytes);
        var encrypted = envelope?.Element("Encrypt")?.Value;
        if (string.IsNullOrEmpty(encrypted))
        {
            return (envelope, null, CallbackProblem.Malformed, "the body is not the callback XML with an Encrypt element.");
        }

        var (plain, problem, detail) = Decrypt(token, key, isReceiver, msgSignature, timestamp, nonce, encrypted!);
        if (plain is null)
        {
            return (envelope, null, problem, detail);
        }

        var message = ParseXml(plain, maxBytes);
        return message is null
            ? (envelope, null, CallbackProblem.Malformed, "the decrypted message is not XML.")
            : (envelope, message, CallbackProblem.None, string.Empty);
    }

    /// <summary>Verifies and decrypts one ciphertext (a push's <c>Encrypt</c>, or a URL check's <c>echostr</c>).</summary>
    public static (string? Plain, CallbackProblem Problem, string Detail) Decrypt(
        string token, byte[] key, Func<string?, bool> isReceiver, string msgSignature, string timestamp, string nonce, string encrypted)
    {
        if (!WeChatMessageCrypto.VerifySignature(token, timestamp, nonce, encrypted, msgSignature))
        {
            return (null, CallbackProblem.InvalidSignature, "msg_signature does not match the Token.");
        }

        var (plain, receiver, problem) = WeChatMessageCrypto.Decrypt(key, encrypted);
        if (plain is null)
        {
            return (null, CallbackProblem.Undecryptable, problem + ".");
        }

        return isReceiver(receiver)
            ? (plain, CallbackProblem.None, string.Empty)
            : (null, CallbackProblem.WrongReceiver, "the message was sealed for another receiver.");
    }

    public static XElement? ParseXml(string xml, int maxBytes)
    {
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = maxBytes,
            IgnoreComments = true,
        };
        try
        {
            using var text = new StringReader(xml);
            using var reader = XmlReader.Create(text, settings);
            return XElement.Load(reader);
        }
        catch (XmlException)
        {
            return null;
        }
    }
}
