import ReplayStream

/// Where a panel's lines go: a file or stream (``ByteOutput``), or messages (a Kafka topic, one message a line).
/// ``PanelLinesSink`` renders into it; the checkpoint makes what it took durable through ``lineDurability``.
public protocol PanelLineOutput: AnyObject {
    /// What the output holds so far: bytes for a file, messages for a topic (a checkpoint records it).
    var length: Int64 { get }
    /// Appends whole lines: `body` writes them into the output's buffer.
    func append(_ body: (inout [UInt8]) -> Void) throws
    /// Hands everything appended to the operating system (or the client library).
    func drain() throws
    /// What makes everything drained durable (an fsync; every message acknowledged).
    var lineDurability: any OutputDurability { get }
    /// Ends the output; called on every path before it is released.
    func close() throws
}

extension ByteOutput: PanelLineOutput {
    public var lineDurability: any OutputDurability { durability }
}
