import Foundation
import Glibc

/// The local wall-clock time as `HH:mm:ss`, for the timestamp of each line flow prints to a
/// log. By `localtime_r` and `strftime`: a `DateFormatter` costs about a millisecond to make,
/// a tenth of a no-op run.
public enum WallClock {
    public static func time(_ date: Date = Date()) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 16)
        let n = strftime(&buffer, buffer.count, "%H:%M:%S", &parts)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
