using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace FunctionApp.Tests.Support;

/// <summary>Keeps every log entry at or above a level, for tests that wait for something to be logged.</summary>
public sealed class CapturingLoggerProvider(LogLevel minimum = LogLevel.Warning) : ILoggerProvider
{
    public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner._minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                owner.Entries.Enqueue((category, logLevel, (formatter(state, exception) ?? string.Empty) + (exception is null ? string.Empty : " EXC " + exception.GetType() + ": " + exception.Message)));
        }
    }

    private readonly LogLevel _minimum = minimum;
}
