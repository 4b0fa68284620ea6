// flow op decode-check: decode every image in a set of shards and report the ones that fail.
import ArgumentParser
import Foundation
import FlowFormats

/// `flow op decode-check`: finds corrupt or undecodable images in WebDataset shards.
struct DecodeCheckOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "decode-check",
        abstract: "Decode every JPEG and PNG image in shards; report failures and throughput.",
        discussion: """
        Each argument is a shard, a directory (all *.tar and *.tar.lz4 in it) or a glob. Every \
        entry with extension jpg, jpeg or png is decoded to RGB floats as training would. \
        Each failure is printed as SHARD: sample KEY: cannot decode image: LIBRARY: MESSAGE. \
        The last line gives the image count and images per second. Exits non-zero when any \
        image (or shard) cannot be read, so a .dag step can guard a dataset. Use --report to \
        keep a JSON list of the failures.
        """)
    static let version = 1

    @Argument(help: "Shards: paths, directories or globs.")
    var shards: [String]

    @Option(help: "Threads, each decoding whole shards (default: the step's cpus, FLOW_CPUS, else 1).")
    var threads: Int?

    @Option(help: "Print at most this many failures (all are counted, and all go to --report).")
    var maxErrors: Int = 20

    @Option(help: "Write a JSON report here: counts, seconds and every failure.")
    var report: String?

    struct Failure { var shard: String, key: String, message: String }

    /// What one shard held.
    struct Tally { var images = 0, bytes = 0, decodeSeconds = 0.0, failures: [Failure] = [] }

    func run() throws {
        var paths: [String] = []
        for pattern in shards {
            do { paths += try Shards.expand(pattern) } catch { throw OpError("\(error)") }
        }
        guard !paths.isEmpty else { throw OpError("decode-check: no shards match \(shards.joined(separator: " "))") }
        let start = Date()
        let nThreads = max(1, min(StepEnvironment.threads(threads), paths.count))
        var tallies = [Tally](repeating: Tally(), count: paths.count)
        let shardPaths = paths
        let counter = ShardCounter()
        tallies.withUnsafeMutableBufferPointer { slots in
            // Each shard's slot is written by the one worker that claimed the shard.
            nonisolated(unsafe) let slots = slots
            DispatchQueue.concurrentPerform(iterations: nThreads) { _ in
                let decoder = try? ImageDecoder()
                while true {
                    let i = counter.claim()
                    if i >= shardPaths.count { break }
                    slots[i] = Self.check(shardPaths[i], decoder: decoder)
                    let done = counter.claimed
                    Progress.shared.report("decode-check shard \(min(done, shardPaths.count))/\(shardPaths.count)")
                }
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let images = tallies.reduce(0) { $0 + $1.images }
        let failures = tallies.flatMap(\.failures)
        for f in failures.prefix(maxErrors) { FileHandle.standardError.write(Data((f.message + "\n").utf8)) }
        if failures.count > maxErrors {
            FileHandle.standardError.write(Data("... and \(failures.count - maxErrors) more failures\n".utf8))
        }
        if let report { try writeReport(report, paths: paths, tallies: tallies, seconds: seconds) }
        let rate = seconds > 0 ? Double(images) / seconds : 0
        print(String(format: "decode-check: %d images in %d shards, %d failed; %.3f s, %.0f images/s, %d threads",
                     images, paths.count, failures.count, seconds, rate, nThreads))
        if !failures.isEmpty {
            throw OpError("decode-check: \(failures.count) failures (images or whole shards) among \(images) images in \(paths.count) shards; first: \(failures[0].message)")
        }
    }

    /// Reads and decodes one shard; a shard that cannot be read is one failure.
    static func check(_ path: String, decoder: ImageDecoder?) -> Tally {
        var tally = Tally()
        guard let decoder else {
            tally.failures.append(Failure(shard: path, key: "", message: "\(path): cannot create a JPEG decoder"))
            return tally
        }
        do {
            let reader = try ShardReader(path: path)
            while let sample = try reader.next() {
                for (ext, bytes) in sample.entries where ext == "jpg" || ext == "jpeg" || ext == "png" {
                    tally.images += 1
                    tally.bytes += bytes.count
                    let t0 = Date()
                    do { _ = try decoder.decode(bytes, hint: ext) } catch let e as ImageError {
                        tally.failures.append(Failure(shard: path, key: sample.key, message: e.in(key: sample.key, shard: path).description))
                    } catch {
                        tally.failures.append(Failure(shard: path, key: sample.key, message: "\(path): sample \(sample.key): \(error)"))
                    }
                    tally.decodeSeconds += Date().timeIntervalSince(t0)
                }
            }
        } catch let e as FormatError {
            tally.failures.append(Failure(shard: path, key: "", message: e.description))  // names the shard already
        } catch {
            tally.failures.append(Failure(shard: path, key: "", message: "\(path): cannot read the shard: \(error)"))
        }
        return tally
    }

    private func writeReport(_ path: String, paths: [String], tallies: [Tally], seconds: Double) throws {
        func quote(_ s: String) -> String {
            var out = "\""
            for ch in s.unicodeScalars {
                switch ch {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                default: out += ch.value < 0x20 ? String(format: "\\u%04x", ch.value) : String(ch)
                }
            }
            return out + "\""
        }
        let failures = tallies.flatMap(\.failures).map {
            "{\"shard\": \(quote($0.shard)), \"key\": \(quote($0.key)), \"error\": \(quote($0.message))}"
        }
        let images = tallies.reduce(0) { $0 + $1.images }
        let bytes = tallies.reduce(0) { $0 + $1.bytes }
        let decode = tallies.reduce(0.0) { $0 + $1.decodeSeconds }
        let json = "{\"shards\": \(paths.count), \"images\": \(images), \"image_bytes\": \(bytes), "
            + String(format: "\"seconds\": %.4f, \"decode_seconds\": %.4f, ", seconds, decode)
            + "\"failed\": \(failures.count), \"failures\": [\(failures.joined(separator: ", "))]}\n"
        do { try Data(json.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw OpError("\(path): cannot write the report: \(error.localizedDescription)")
        }
    }
}

/// Hands out shard indices to decode-check's workers, each index once, under a lock.
// @unchecked: `next` is read and written only while `lock` is held.
private final class ShardCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0

    /// The next unclaimed index (past the end once every shard is taken).
    func claim() -> Int {
        lock.lock()
        defer { lock.unlock() }
        next += 1
        return next - 1
    }

    /// How many indices have been claimed so far.
    var claimed: Int {
        lock.lock()
        defer { lock.unlock() }
        return next
    }
}
