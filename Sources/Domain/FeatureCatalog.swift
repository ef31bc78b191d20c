/// The features a Kiln deployment knows, by name: the built-in ones, those declared in the
/// configuration, and those a Swift app registers.
public struct FeatureCatalog: Sendable {
    private var features: [String: any Feature]

    public init(_ features: [any Feature]) {
        self.features = Dictionary(features.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
    }

    /// The features Kiln ships: `document_summary`, and the map and reduce steps of its
    /// long-document trees (`document_summary_part`, `document_summary_merge`).
    public static let builtIn = FeatureCatalog([DocumentSummary(), DocumentPartSummary(), DocumentMergeSummary()])

    public var names: [String] { features.keys.sorted() }

    /// This catalog with `added`; a name already known is refused, so a declared feature
    /// never silently replaces a built-in one.
    public func adding(_ added: [any Feature]) throws(KilnError) -> FeatureCatalog {
        var catalog = self
        for feature in added {
            if catalog.features[feature.name] != nil {
                throw KilnError(
                    .invalidConfiguration,
                    "features.\(feature.name.prefix(64)): the name is already taken by \(Self.builtIn.features[feature.name] == nil ? "another feature" : "a built-in feature")"
                )
            }
            catalog.features[feature.name] = feature
        }
        return catalog
    }

    /// The feature called `name`, or an error listing the known ones.
    public func feature(named name: String) throws(KilnError) -> any Feature {
        guard let feature = features[name] else {
            throw KilnError(
                .unknownFeature,
                "unknown feature \"\(name.prefix(64))\"; known features: \(names.joined(separator: ", "))")
        }
        return feature
    }

    /// The policy a run of `feature` works under: `defaults`, then the feature's overrides,
    /// then the run's own (an unknown feature adds none; it fails when the run is planned).
    public func policy(feature name: String, overrides: JSONValue, defaults: RunPolicy) throws(KilnError) -> RunPolicy {
        var base = defaults
        if let feature = features[name] {
            base = try defaults.applying(feature.policyOverrides, prefix: "features.\(name.prefix(64)).policy.")
        }
        return try base.applying(overrides)
    }
}
