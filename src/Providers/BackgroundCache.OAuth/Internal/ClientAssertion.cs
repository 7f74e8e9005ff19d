using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace BackgroundCache.OAuth.Internal;

/// <summary>
/// Builds the <c>private_key_jwt</c> client assertion (RFC 7523 §2.2, §3): a JWT with <c>iss</c> = <c>sub</c> = the client
/// id, <c>aud</c> = the configured audience, else the issuer named by discovery, else the token endpoint, a fresh <c>jti</c>, <c>iat</c>/<c>nbf</c>/<c>exp</c>, signed RS/PS/ES with the
/// client's key.
/// </summary>
internal static class ClientAssertion
{
    public const string AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    public static string Create(ClientCredentialsOptions options, string audience, DateTimeOffset now)
    {
        using var key = LoadKey(options, out var x5t);
        var algorithm = ResolveAlgorithm(options.SigningAlgorithm, key);
        var header = Json(writer =>
        {
            writer.WriteString("alg", algorithm);
            writer.WriteString("typ", options.ClientAssertionTokenType);
            if ((options.KeyId ?? x5t) is { } kid)
            {
                writer.WriteString("kid", kid);
            }

            if (x5t is not null)
            {
                writer.WriteString("x5t", x5t);
            }
        });
        var issuedAt = now.ToUnixTimeSeconds();
        var payload = Json(writer =>
        {
            writer.WriteString("iss", options.ClientId);
            writer.WriteString("sub", options.ClientId);
            writer.WriteString("aud", audience);
            writer.WriteString("jti", Guid.NewGuid().ToString("N"));
            writer.WriteNumber("iat", issuedAt);
            writer.WriteNumber("nbf", issuedAt);
            writer.WriteNumber("exp", issuedAt + (long)options.ClientAssertionLifetime.TotalSeconds);
        });
        var signingInput = Base64Url.Encode(header) + "." + Base64Url.Encode(payload);
        var signature = Sign(key, algorithm, Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + Base64Url.Encode(signature);
    }

    /// <summary>Checks that the configured key loads and fits the algorithm; the message names the setting at fault.</summary>
    public static string? Validate(ClientCredentialsOptions options)
    {
        try
        {
            using var key = LoadKey(options, out _);
            ResolveAlgorithm(options.SigningAlgorithm, key);
            return null;
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException or NotSupportedException or InvalidOperationException)
        {
            return ex.Message;
        }
    }

    private static AsymmetricAlgorithm LoadKey(ClientCredentialsOptions options, out string? x5t)
    {
        if (options.Certificate is { } certificate)
        {
            x5t = Base64Url.Encode(certificate.GetCertHash());
            return (AsymmetricAlgorithm?)certificate.GetRSAPrivateKey()
                ?? certificate.GetECDsaPrivateKey()
                ?? throw new InvalidOperationException("Certificate has no RSA or EC private key: private_key_jwt signs with the certificate's private key.");
        }

        x5t = null;
        var pem = options.PrivateKey ?? throw new InvalidOperationException("PrivateKey or Certificate is required when ClientAuthentication is PrivateKeyJwt.");
#if NET
        const string NotAKey = "PrivateKey is not a PEM RSA or EC private key (PKCS#8 'PRIVATE KEY', 'RSA PRIVATE KEY' or 'EC PRIVATE KEY').";
        if (pem.Contains("EC PRIVATE KEY", StringComparison.Ordinal))
        {
            return Import(ECDsa.Create(), pem, NotAKey);
        }

        try
        {
            return Import(RSA.Create(), pem, "PrivateKey is not a valid PEM RSA private key.");
        }
        catch (ArgumentException) when (!pem.Contains("RSA PRIVATE KEY", StringComparison.Ordinal))
        {
            return Import(ECDsa.Create(), pem, NotAKey); // a PKCS#8 "PRIVATE KEY" may hold an EC key
        }

        static AsymmetricAlgorithm Import(AsymmetricAlgorithm key, string pem, string problem)
        {
            try
            {
                key.ImportFromPem(pem);
                return key;
            }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException)
            {
                key.Dispose();
                throw new ArgumentException(problem, ex);
            }
        }
#else
        _ = pem;
        throw new NotSupportedException("PrivateKey (PEM) needs .NET 5 or later; on .NET Framework set Certificate (an X509Certificate2 with its private key) instead.");
#endif
    }

    private static string ResolveAlgorithm(string? configured, AsymmetricAlgorithm key)
    {
        if (key is ECDsa ec)
        {
            var curveAlgorithm = ec.KeySize switch
            {
                256 => "ES256",
                384 => "ES384",
                521 => "ES512",
                _ => throw new NotSupportedException($"SigningAlgorithm: an EC key of {ec.KeySize} bits has no JWS algorithm (P-256, P-384 or P-521 only)."),
            };
            if (configured is not null && !string.Equals(configured, curveAlgorithm, StringComparison.Ordinal))
            {
                throw new ArgumentException($"SigningAlgorithm '{configured}' does not fit the EC key (its curve needs {curveAlgorithm}).");
            }

            return curveAlgorithm;
        }

        var algorithm = configured ?? "RS256";
        return algorithm switch
        {
            "RS256" or "RS384" or "RS512" or "PS256" or "PS384" or "PS512" => algorithm,
            _ => throw new ArgumentException($"SigningAlgorithm '{algorithm}' does not fit an RSA key (RS256, RS384, RS512, PS256, PS384 or PS512)."),
        };
    }

    private static byte[] Sign(AsymmetricAlgorithm key, string algorithm, byte[] data)
    {
        var hash = algorithm.Substring(2) switch
        {
            "384" => HashAlgorithmName.SHA384,
            "512" => HashAlgorithmName.SHA512,
            _ => HashAlgorithmName.SHA256,
        };
        return key switch
        {
            ECDsa ec => ec.SignData(data, hash),
            RSA rsa => rsa.SignData(data, hash, algorithm[0] == 'P' ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1),
            _ => throw new NotSupportedException("Only RSA and EC keys sign client assertions."),
        };
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
