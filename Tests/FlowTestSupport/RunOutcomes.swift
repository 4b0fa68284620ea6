import Foundation

/// What `flow run` did, or what `flow run -n` said it would do, for each step instance, read from
/// their `-v` output (see `PlainReporter`): `[3/7] ran NAME (0.1s)`, `[4/7] restored NAME (why)`,
/// `[5/7] cached NAME`, `would run NAME: why`; a run prints its lines after an `HH:mm:ss` stamp.
public enum RunOutcomes {
    public enum Action: String, CustomStringConvertible {
        case run, restore, cached, failed, skipped
        /// `would run NAME: upstream X must run` and no other reason: the step runs unless the
        /// upstream steps write the same bytes as before (then it is cached or restored), which
        /// no dry run can know.
        case runUnlessUpstreamUnchanged = "run (or not, after its upstream)"
        public var description: String { rawValue }

        /// Whether a run that did `actual` kept this prediction.
        public func admits(_ actual: Action) -> Bool {
            self == actual || (self == .runUnlessUpstreamUnchanged && [.run, .restore, .cached].contains(actual))
        }
    }

    /// Step instance name → action, from the output of `flow run -v` or `flow run -n -v`.
    public static func parse(_ stdout: String) -> [String: Action] {
        var result: [String: Action] = [:]
        for raw in stdout.split(separator: "\n") {
            var line = Substring(raw)
            // A timestamp "HH:mm:ss " first, when flow writes to a log.
            if line.count > 9, line.prefix(8).allSatisfy({ $0.isNumber || $0 == ":" }), line.dropFirst(8).first == " " {
                line = line.dropFirst(9)
            }
            if line.hasPrefix("would run ") {
                let rest = line.dropFirst("would run ".count)
                if let colon = rest.range(of: ": ") {
                    let reasons = rest[colon.upperBound...].components(separatedBy: "; ")
                    let onlyUpstream = reasons.allSatisfy { $0.hasPrefix("upstream ") && $0.hasSuffix(" must run") }
                    result[String(rest[..<colon.lowerBound])] = onlyUpstream ? .runUnlessUpstreamUnchanged : .run
                }
                continue
            }
            guard line.hasPrefix("["), let close = line.range(of: "] ") else { continue }
            let words = line[close.upperBound...].split(separator: " ", maxSplits: 1)
            guard words.count == 2 else { continue }
            let name = String(words[1].split(separator: " ").first ?? "")
            switch words[0] {
            case "ran": result[name] = .run
            case "restored": result[name] = .restore
            case "cached": result[name] = .cached
            case "failed": result[name] = .failed
            case "skipped": result[name] = .skipped
            default: break
            }
        }
        return result
    }
}

/// The regular files under a directory, by relative path.
public enum FileTree {
    /// Relative path → content of every file under `root`, except in the top-level `excluded`.
    public static func files(in root: String, excluding excluded: Set<String> = [".flow", "cache"]) -> [String: Data] {
        var result: [String: Data] = [:]
        guard let walker = FileManager.default.enumerator(atPath: root) else { return result }
        while let rel = walker.nextObject() as? String {
            if excluded.contains(String(rel.split(separator: "/").first ?? "")) { continue }
            var isDir: ObjCBool = false
            let abs = root + "/" + rel
            guard FileManager.default.fileExists(atPath: abs, isDirectory: &isDir), !isDir.boolValue else { continue }
            result[rel] = FileManager.default.contents(atPath: abs) ?? Data()
        }
        return result
    }
}
