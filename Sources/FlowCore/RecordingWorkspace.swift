import XXHash

/// A `WorkspaceView` that answers from another one and writes down every question the loader
/// asks and the answer it got (`log`). The loader sees the world only through its view, its
/// environment, the `--set` values and the op catalog: with the same answers to the same
/// questions it makes the same workflow. A memo of a load keeps the log, and is good as long as
/// asking the questions again (`WorkspaceLog.replay`) gets the same answers.
public final class RecordingWorkspace: WorkspaceView {
    public let base: any WorkspaceView
    /// Every question in the order asked, repeats included (deduplicated by `WorkspaceLog.init`).
    public private(set) var asked: [(WorkspaceLog.Query, WorkspaceLog.Answer)] = []

    public init(_ base: any WorkspaceView) {
        self.base = base
        asked.reserveCapacity(1024)
    }

    /// What was asked, each question once.
    public var log: WorkspaceLog { WorkspaceLog(asked) }

    public func readText(_ path: String) throws -> String {
        do {
            let text = try base.readText(path)
            asked.append((.readText(path), .text(XXH128.hash(text))))
            return text
        } catch {
            asked.append((.readText(path), .text(nil)))
            throw error
        }
    }

    public func kind(of path: String) -> PathKind {
        let kind = base.kind(of: path)
        asked.append((.kind(path), .kind(kind)))
        return kind
    }

    public func realPath(_ path: String) -> String? {
        let real = base.realPath(path)
        asked.append((.realPath(path), .path(real)))
        return real
    }

    public func glob(_ pattern: String) -> [String] {
        let matches = base.glob(pattern)
        asked.append((.glob(pattern), .paths(matches)))
        return matches
    }

    public func isOwnedByFlow(_ path: String) -> Bool {
        let owned = base.isOwnedByFlow(path)
        asked.append((.ownedByFlow(path), .flag(owned)))
        return owned
    }

    public func wasProducedByFlow(_ path: String) -> Bool {
        let produced = base.wasProducedByFlow(path)
        asked.append((.producedByFlow(path), .flag(produced)))
        return produced
    }

    public func resultFiles(of step: String, directory: String) -> [String]? {
        let files = base.resultFiles(of: step, directory: directory)
        asked.append((.resultFiles(step: step, directory: directory), .paths(files)))
        return files
    }
}

/// The questions a load asked of its workspace, each once, in the order first asked, with the
/// answers it got. A file's text is kept as its content digest (XXH3-128 of its UTF-8).
public struct WorkspaceLog: Equatable, Sendable {
    public enum Query: Hashable, Sendable {
        case readText(String)
        case kind(String)
        case realPath(String)
        case glob(String)
        case ownedByFlow(String)
        case producedByFlow(String)
        case resultFiles(step: String, directory: String)
    }

    public enum Answer: Equatable, Sendable {
        /// The digest of a file's text; nil when it could not be read.
        case text(Digest128?)
        case kind(PathKind)
        case path(String?)
        case paths([String]?)
        case flag(Bool)
    }

    public var entries: [(query: Query, answer: Answer)]
    /// False when one question got two different answers in one load: something changed while
    /// the loader looked, and what it made matches no single state of the workspace.
    public var isSteady = true

    public init(entries: [(query: Query, answer: Answer)]) {
        self.entries = entries
    }

    /// Keeps the first of each question, and notes whether a repeat was answered otherwise.
    init(_ asked: [(Query, Answer)]) {
        var first: [Query: Answer] = [:]
        first.reserveCapacity(asked.count)
        entries = []
        entries.reserveCapacity(asked.count)
        for (query, answer) in asked {
            if let known = first[query] {
                if known != answer { isSteady = false }
                continue
            }
            first[query] = answer
            entries.append((query, answer))
        }
    }

    /// Asks every question again, in the same order, of `view`: the first whose answer differs,
    /// or nil when all answers are the same. Through a workspace that records what it is asked
    /// about (the runtime's `Workspace`), this records what a load would have looked at.
    public func replay(on view: any WorkspaceView) -> Query? {
        for (query, answer) in entries where Self.answer(query, from: view) != answer { return query }
        return nil
    }

    static func answer(_ query: Query, from view: any WorkspaceView) -> Answer {
        switch query {
        case .readText(let path): return .text((try? view.readText(path)).map { XXH128.hash($0) })
        case .kind(let path): return .kind(view.kind(of: path))
        case .realPath(let path): return .path(view.realPath(path))
        case .glob(let pattern): return .paths(view.glob(pattern))
        case .ownedByFlow(let path): return .flag(view.isOwnedByFlow(path))
        case .producedByFlow(let path): return .flag(view.wasProducedByFlow(path))
        case .resultFiles(let step, let directory): return .paths(view.resultFiles(of: step, directory: directory))
        }
    }

    public static func == (a: WorkspaceLog, b: WorkspaceLog) -> Bool {
        a.isSteady == b.isSteady && a.entries.elementsEqual(b.entries) { $0.query == $1.query && $0.answer == $1.answer }
    }
}
