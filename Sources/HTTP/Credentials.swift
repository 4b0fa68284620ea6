import Foundation

/// What the client sends to prove who it is. Never printed: `description`, `debugDescription`
/// and `dump` show only the kind.
///
/// Sent only to the configured remote's origin (scheme, host and port): a redirect elsewhere is
/// followed without them. Refused over plain http:// unless `allowInsecureHTTP` is set.
public enum Credentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `Authorization: Bearer <token>`.
    case bearer(token: String)
    /// HTTP Basic authentication.
    case basic(user: String, password: String)

    /// The bearer token.
    public static let tokenVariable = "FLOW_REMOTE_TOKEN"
    /// The user for Basic authentication; needs `passwordVariable` too.
    public static let userVariable = "FLOW_REMOTE_USER"
    /// The password for Basic authentication.
    public static let passwordVariable = "FLOW_REMOTE_PASSWORD"

    /// The credentials in `environment`: FLOW_REMOTE_TOKEN, or FLOW_REMOTE_USER with
    /// FLOW_REMOTE_PASSWORD; nil when none is set. Throws (`.insecureCredentials`) when they
    /// are incomplete, ambiguous, or cannot be sent as they are.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(HTTPError) -> Credentials?
    {
        let token = environment[tokenVariable].flatMap { $0.isEmpty ? nil : $0 }
        let user = environment[userVariable].flatMap { $0.isEmpty ? nil : $0 }
        let password = environment[passwordVariable]
        let credentials: Credentials
        switch (token, user) {
        case (nil, nil):
            guard password == nil else {
                throw HTTPError(.insecureCredentials, detail: "\(passwordVariable) is set without \(userVariable)")
            }
            return nil
        case (let token?, nil):
            credentials = .bearer(token: token)
        case (nil, let user?):
            guard let password else {
                throw HTTPError(.insecureCredentials, detail: "\(userVariable) is set without \(passwordVariable)")
            }
            credentials = .basic(user: user, password: password)
        case (_?, _?):
            throw HTTPError(.insecureCredentials, detail: "both \(tokenVariable) and \(userVariable) are set; use one")
        }
        try credentials.validate()
        return credentials
    }

    /// Refuses what would break the request or inject a header: control characters (a newline
    /// in a token would start a header of the attacker's choosing), a colon in a Basic user.
    func validate() throws(HTTPError) {
        func clean(_ s: String) -> Bool { !s.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f } }
        switch self {
        case .bearer(let token):
            guard !token.isEmpty, clean(token), !token.contains(" ") else {
                throw HTTPError(.insecureCredentials, detail: "the bearer token is empty or has spaces or control characters")
            }
        case .basic(let user, let password):
            guard !user.isEmpty, clean(user), clean(password), !user.contains(":") else {
                throw HTTPError(.insecureCredentials, detail: "the user is empty or has a colon or control characters, or the password has control characters")
            }
        }
    }

    public var description: String {
        switch self {
        case .bearer: return "bearer token (hidden)"
        case .basic: return "user and password (hidden)"
        }
    }

    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["kind": description]) }
}
