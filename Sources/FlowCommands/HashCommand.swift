import ArgumentParser
import Foundation
import FlowRuntime

/// `flow hash PATH...`
struct HashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Print the content digest flow uses for files (XXH3-128, as `xxhsum -H2`) and directories (Merkle).")

    @Argument(help: "Files or directories.")
    var paths: [String]

    func run() throws {
        var failed = false
        for path in paths {
            do {
                guard let st = FileStat.of(path) else { throw SystemError("read", path, errno: ENOENT) }
                if st.isDirectory {
                    let files = try ContentHash.listFiles(path)
                    let entries = try files.map { f -> ContentHash.TreeEntry in
                        let s = FileStat.of(path + "/" + f)
                        return ContentHash.TreeEntry(path: f, digest: try ContentHash.file(path + "/" + f), size: s?.size ?? 0,
                                                     executable: s?.isExecutable ?? false)
                    }
                    print("\(ContentHash.tree(entries).hex)  \(path)/")
                } else {
                    print("\(try ContentHash.file(path).hex)  \(path)")
                }
            } catch {
                Diagnostics.print("flow hash: \(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}
