namespace MetaNode.Silo.Ui;

public static partial class MetaNodeUi
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "The MetaNode view could not read {View}")]
    private static partial void LogReadFailed(ILogger logger, string view, Exception exception);
}
