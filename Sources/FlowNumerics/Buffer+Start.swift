// The first element's address of a lent buffer, for kernels that work on raw pointers.
//
// An empty buffer may have no address at all (`baseAddress` is nil), so a kernel must decide
// what an empty input means before it takes one: return early (no rows: nothing to do), or
// refuse it (no centroids to assign to). `start` then states that decision: it traps, as a
// programmer error, if an empty buffer still reaches it, where force-unwrapping `baseAddress` would crash
// without saying why.

extension UnsafeBufferPointer {
    /// The address of element 0 of a buffer the caller knows is not empty.
    @inline(__always)
    package var start: UnsafePointer<Element> {
        guard let base = baseAddress else { preconditionFailure("an empty buffer reached a kernel that needs elements") }
        return base
    }
}

extension UnsafeMutableBufferPointer {
    /// The address of element 0 of a buffer the caller knows is not empty.
    @inline(__always)
    package var start: UnsafeMutablePointer<Element> {
        guard let base = baseAddress else { preconditionFailure("an empty buffer reached a kernel that needs elements") }
        return base
    }
}
