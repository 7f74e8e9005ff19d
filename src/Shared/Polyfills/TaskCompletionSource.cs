namespace BackgroundCache.Polyfills;

/// <summary>
/// netstandard2.0 stand-in for the non-generic <c>System.Threading.Tasks.TaskCompletionSource</c> (.NET 5+): a
/// <see cref="TaskCompletionSource{TResult}"/> whose result nobody reads.
/// </summary>
internal sealed class TaskCompletionSource
{
    private readonly TaskCompletionSource<bool> _inner;

    /// <summary>Initializes a new instance of the <see cref="TaskCompletionSource"/> class.</summary>
    public TaskCompletionSource() => _inner = new TaskCompletionSource<bool>();

    /// <summary>Initializes a new instance of the <see cref="TaskCompletionSource"/> class with the given options.</summary>
    /// <param name="creationOptions">The options for the underlying task.</param>
    public TaskCompletionSource(TaskCreationOptions creationOptions) => _inner = new TaskCompletionSource<bool>(creationOptions);

    /// <summary>Gets the task this source completes.</summary>
    public Task Task => _inner.Task;

    /// <summary>Completes the task successfully unless it already completed.</summary>
    /// <returns><see langword="true"/> if this call completed the task.</returns>
    public bool TrySetResult() => _inner.TrySetResult(true);

    /// <summary>Completes the task successfully.</summary>
    public void SetResult() => _inner.SetResult(true);

    /// <summary>Faults the task unless it already completed.</summary>
    /// <param name="exception">The task's exception.</param>
    /// <returns><see langword="true"/> if this call completed the task.</returns>
    public bool TrySetException(Exception exception) => _inner.TrySetException(exception);

    /// <summary>Cancels the task unless it already completed.</summary>
    /// <returns><see langword="true"/> if this call completed the task.</returns>
    public bool TrySetCanceled() => _inner.TrySetCanceled();

    /// <summary>Cancels the task with <paramref name="cancellationToken"/> unless it already completed.</summary>
    /// <param name="cancellationToken">The token that caused the cancellation.</param>
    /// <returns><see langword="true"/> if this call completed the task.</returns>
    public bool TrySetCanceled(CancellationToken cancellationToken) => _inner.TrySetCanceled(cancellationToken);
}
