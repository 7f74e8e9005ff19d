namespace BackgroundCache.Stores;

/// <summary>
/// Thrown by a fetch that needs a pushed ticket (<see cref="PushedTicket"/>) when none has arrived yet: an expected state
/// right after a first deployment, not a fault. It is transient (the push that brings the ticket fetches at once), and the
/// refresher logs it once at Information, without a stack trace, instead of an Error at every retry.
/// </summary>
public sealed class PushedTicketMissingException : Exception, IRefreshRetryAdvice
{
    /// <summary>Initializes a new instance of the <see cref="PushedTicketMissingException"/> class.</summary>
    public PushedTicketMissingException()
        : base("No pushed ticket has been received yet.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="PushedTicketMissingException"/> class.</summary>
    /// <param name="message">The message that describes the missing ticket and when it is expected.</param>
    public PushedTicketMissingException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="PushedTicketMissingException"/> class.</summary>
    /// <param name="message">The message that describes the missing ticket and when it is expected.</param>
    /// <param name="innerException">The underlying error.</param>
    public PushedTicketMissingException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <inheritdoc/>
    public bool IsTransient => true;

    /// <inheritdoc/>
    public TimeSpan? RetryAfter => null;
}
