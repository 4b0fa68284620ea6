// What `flow op pack` reads: the class folders and image files of an ImageFolder tree, in order.
import Foundation

/// What `pack` will write: the classes and the image files, in byte-wise sorted order.
///
/// Lists directories with opendir/readdir and works on name bytes: for 20,000 files,
/// Foundation's listing and NSString path calls cost more than reading the files.
struct PackPlan {
    struct File { var path: String; var key: String; var ext: String; var classIndex: Int }
    var classes: [String] = []
    var files: [File] = []
    var skipped = 0

    /// One directory entry: its name bytes and whether it is a directory (symbolic links followed).
    struct Entry { var name: [UInt8]; var isDirectory: Bool; var isRegular: Bool }

    static func scan(_ root: String) throws -> PackPlan {
        guard let top = try? list(root) else {
            throw OpError("\(root): not a directory (or not readable); pass a folder with one subfolder per class")
        }
        var plan = PackPlan()
        var keys: [String: String] = [:]
        let dot = UInt8(ascii: "."), underscore = UInt8(ascii: "_")
        for folder in top where folder.name.first != dot {
            guard folder.isDirectory else {
                plan.skipped += 1
                continue
            }
            let name = String(decoding: folder.name, as: UTF8.self)
            let classDir = root + "/" + name
            let index = plan.classes.count
            plan.classes.append(name)
            let entries: [Entry]
            do { entries = try list(classDir) } catch { throw OpError("\(classDir): cannot list: \(error)") }
            let classPart = folder.name.map { $0 == dot ? underscore : $0 } + [underscore]
            var found = 0
            for file in entries where file.name.first != dot {
                // Extension: after the last dot, lower-cased; stem: before it.
                guard file.isRegular, let lastDot = file.name.lastIndex(of: dot) else {
                    plan.skipped += 1
                    continue
                }
                let ext = String(decoding: file.name[(lastDot + 1)...].map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
                guard PackOp.imageExtensions.contains(ext) else {
                    plan.skipped += 1
                    continue
                }
                let key = String(decoding: classPart + file.name[..<lastDot].map { $0 == dot ? underscore : $0 }, as: UTF8.self)
                let path = classDir + "/" + String(decoding: file.name, as: UTF8.self)
                if let other = keys.updateValue(path, forKey: key) {
                    throw OpError("\(other) and \(path) both give the sample key '\(key)'; rename one of them")
                }
                plan.files.append(File(path: path, key: key, ext: ext, classIndex: index))
                found += 1
            }
            if found == 0 {
                throw OpError("\(classDir): class '\(name)' has no image files (jpg, jpeg, png, ...); remove the folder or add images")
            }
        }
        return plan
    }

    /// The entries of `directory` but `.` and `..`, sorted by name bytes.
    static func list(_ directory: String) throws -> [Entry] {
        guard let dir = opendir(directory) else { throw OpError(String(cString: strerror(errno))) }
        defer { closedir(dir) }
        var entries: [Entry] = []
        while let ent = readdir(dir) {
            let name: [UInt8] = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [46] || name == [46, 46] { continue }
            var type = Int32(ent.pointee.d_type)
            if type == Int32(DT_UNKNOWN) || type == Int32(DT_LNK) {
                var info = stat()
                let path = directory + "/" + String(decoding: name, as: UTF8.self)
                type = stat(path, &info) == 0 ? ((info.st_mode & S_IFMT) == S_IFDIR ? Int32(DT_DIR) : (info.st_mode & S_IFMT) == S_IFREG ? Int32(DT_REG) : -1) : -1
            }
            entries.append(Entry(name: name, isDirectory: type == Int32(DT_DIR), isRegular: type == Int32(DT_REG)))
        }
        entries.sort { $0.name.lexicographicallyPrecedes($1.name) }
        return entries
    }
}

/// Reads a whole file with POSIX calls into one buffer.
func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw OpError(String(cString: strerror(errno))) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw OpError(String(cString: strerror(errno))) }
    let size = Int(info.st_size)
    var failure: String?
    let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
        var filled = 0
        while filled < size {
            // Never empty here, so its base address is never nil.
            let rest = UnsafeMutableBufferPointer(rebasing: buffer[filled..<size])
            let n = read(fd, rest.baseAddress, rest.count)
            if n < 0 { if errno == EINTR { continue }; failure = String(cString: strerror(errno)); break }
            if n == 0 { break }
            filled += n
        }
        count = filled
    }
    if let failure { throw OpError(failure) }
    return bytes
}
