import Foundation

/// Sizes for people, in powers of 1000 as disks and networks count them: "512 B", "3.1 MB".
public enum ByteCount {
    public static func text(_ n: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var v = Double(n)
        var i = 0
        while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
        return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
    }
}
