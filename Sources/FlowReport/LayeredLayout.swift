/// A layered (Sugiyama-style) drawing of a DAG, top to bottom:
///
/// 1. each node's layer is the length of the longest path from a source to it;
/// 2. an edge spanning several layers gets a virtual point in each layer between, so it is routed
///    around the boxes and takes part in ordering;
/// 3. the order within each layer starts in node order and is improved by barycenter sweeps
///    (down, using predecessors, then up, using successors), keeping the order with the fewest
///    edge crossings seen;
/// 4. each node is pulled towards the mean position of its neighbours, in a few passes that keep
///    the order and the gaps within its layer.
public struct LayeredLayout: Sendable {
    public struct Point: Equatable, Sendable {
        public var x: Double
        public var y: Double
    }

    /// The layer of each node (0 = sources).
    public var layerOf: [Int]
    /// The order within each layer, real nodes only, left to right.
    public var layers: [[Int]]
    /// The centre of each node's box.
    public var centers: [Point]
    /// For each edge, in the order given: points from the bottom of the source box to the top of
    /// the target box, through the virtual points of the layers crossed.
    public var edgePaths: [[Point]]
    /// Edge crossings between adjacent layers in the final order.
    public var crossings: Int
    public var width: Double
    public var height: Double

    public init(nodeCount: Int, edges: [GraphEdge], nodeWidth: Double = 160, nodeHeight: Double = 30,
                horizontalGap: Double = 24, verticalGap: Double = 40, margin: Double = 12, sweeps: Int = 4) {
        let layerOf = LayeredLayout.longestPathLayers(nodeCount: nodeCount, edges: edges)
        // Virtual nodes: index >= nodeCount. `chains[e]` lists the nodes edge e passes through.
        var layerOfAll = layerOf
        var succ = [[Int]](repeating: [], count: nodeCount)
        var pred = [[Int]](repeating: [], count: nodeCount)
        var chains: [[Int]] = []
        func addNode(_ layer: Int) -> Int {
            layerOfAll.append(layer)
            succ.append([])
            pred.append([])
            return layerOfAll.count - 1
        }
        for e in edges {
            var chain = [e.from]
            var from = e.from
            var layer = layerOf[e.from] + 1
            while layer < layerOf[e.to] {
                let v = addNode(layer)
                succ[from].append(v)
                pred[v].append(from)
                chain.append(v)
                from = v
                layer += 1
            }
            succ[from].append(e.to)
            pred[e.to].append(from)
            chain.append(e.to)
            chains.append(chain)
        }
        let layerCount = (layerOfAll.max() ?? -1) + 1
        var order = [[Int]](repeating: [], count: layerCount)
        for v in 0..<layerOfAll.count { order[layerOfAll[v]].append(v) }

        var position = [Int](repeating: 0, count: layerOfAll.count)
        func index() { for layer in order { for (i, v) in layer.enumerated() { position[v] = i } } }
        func countCrossings() -> Int {
            var total = 0
            for l in 0..<max(0, layerCount - 1) {
                var pairs: [(Int, Int)] = []
                for u in order[l] { for v in succ[u] { pairs.append((position[u], position[v])) } }
                pairs.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
                for i in 0..<pairs.count {
                    for j in (i + 1)..<max(i + 1, pairs.count) where pairs[i].0 < pairs[j].0 && pairs[i].1 > pairs[j].1 {
                        total += 1
                    }
                }
            }
            return total
        }
        func reorder(_ l: Int, by neighbours: [[Int]]) {
            let keyed = order[l].map { v -> (Int, Double) in
                let ns = neighbours[v]
                guard !ns.isEmpty else { return (v, Double(position[v])) }
                return (v, Double(ns.map { position[$0] }.reduce(0, +)) / Double(ns.count))
            }
            // Stable: ties keep their current order.
            order[l] = keyed.enumerated().sorted { a, b in
                a.element.1 != b.element.1 ? a.element.1 < b.element.1 : a.offset < b.offset
            }.map(\.element.0)
            for (i, v) in order[l].enumerated() { position[v] = i }
        }
        index()
        var best = order
        var bestCrossings = countCrossings()
        for _ in 0..<sweeps where bestCrossings > 0 {
            for l in stride(from: 1, to: layerCount, by: 1) { reorder(l, by: pred) }
            for l in stride(from: layerCount - 2, through: 0, by: -1) { reorder(l, by: succ) }
            let c = countCrossings()
            if c < bestCrossings {
                bestCrossings = c
                best = order
            }
        }
        order = best
        index()

        // Coordinates: real boxes are nodeWidth wide, virtual points take a narrow slot. Start
        // packed left to right, then pull each node towards the mean of its neighbours a few
        // times, keeping the order and the gaps (the mean of a left-packed and a right-packed
        // placement, both of which respect the gaps).
        let virtualWidth: Double = 8
        func slot(_ v: Int) -> Double { v < nodeCount ? nodeWidth : virtualWidth }
        func gap(_ a: Int, _ b: Int) -> Double {
            (slot(a) + slot(b)) / 2 + (a < nodeCount && b < nodeCount ? horizontalGap : horizontalGap / 2)
        }
        var xs = [Double](repeating: 0, count: layerOfAll.count)
        for layer in order {
            var x = 0.0
            for (i, v) in layer.enumerated() {
                x += i == 0 ? slot(v) / 2 : gap(layer[i - 1], v)
                xs[v] = x
            }
        }
        for pass in 0..<8 {
            let layersInTurn = pass % 2 == 0 ? Array(0..<layerCount) : Array((0..<layerCount).reversed())
            for l in layersInTurn {
                let layer = order[l]
                guard !layer.isEmpty else { continue }
                let desired = layer.map { v -> Double in
                    let ns = pred[v] + succ[v]
                    return ns.isEmpty ? xs[v] : ns.map { xs[$0] }.reduce(0, +) / Double(ns.count)
                }
                var left = desired, right = desired
                for i in 1..<max(1, layer.count) { left[i] = max(desired[i], left[i - 1] + gap(layer[i - 1], layer[i])) }
                for i in stride(from: layer.count - 2, through: 0, by: -1) { right[i] = min(desired[i], right[i + 1] - gap(layer[i], layer[i + 1])) }
                for (i, v) in layer.enumerated() { xs[v] = (left[i] + right[i]) / 2 }
            }
        }
        let minX = (0..<xs.count).map { xs[$0] - slot($0) / 2 }.min() ?? 0
        let maxX = (0..<xs.count).map { xs[$0] + slot($0) / 2 }.max() ?? 0
        let width = maxX - minX + 2 * margin
        var all = [Point](repeating: Point(x: 0, y: 0), count: layerOfAll.count)
        for v in 0..<xs.count {
            all[v] = Point(x: xs[v] - minX + margin, y: margin + Double(layerOfAll[v]) * (nodeHeight + verticalGap) + nodeHeight / 2)
        }
        self.layerOf = layerOf
        self.layers = order.map { $0.filter { $0 < nodeCount } }
        self.centers = Array(all.prefix(nodeCount))
        self.edgePaths = chains.map { chain in
            chain.enumerated().map { i, v in
                var p = all[v]
                if i == 0 { p.y += nodeHeight / 2 } else if i == chain.count - 1 { p.y -= nodeHeight / 2 }
                return p
            }
        }
        self.crossings = bestCrossings
        self.width = width
        self.height = layerCount == 0 ? 2 * margin : 2 * margin + Double(layerCount) * nodeHeight + Double(layerCount - 1) * verticalGap
    }

    /// Longest path from any source, by Kahn's algorithm; nodes on a cycle (not expected in a
    /// workflow) go below everything else rather than looping.
    static func longestPathLayers(nodeCount: Int, edges: [GraphEdge]) -> [Int] {
        var indegree = [Int](repeating: 0, count: nodeCount)
        var succ = [[Int]](repeating: [], count: nodeCount)
        for e in edges where e.from != e.to {
            succ[e.from].append(e.to)
            indegree[e.to] += 1
        }
        var layer = [Int](repeating: 0, count: nodeCount)
        var queue = (0..<nodeCount).filter { indegree[$0] == 0 }
        var done = 0
        var head = 0
        while head < queue.count {
            let u = queue[head]
            head += 1
            done += 1
            for v in succ[u] {
                layer[v] = max(layer[v], layer[u] + 1)
                indegree[v] -= 1
                if indegree[v] == 0 { queue.append(v) }
            }
        }
        if done < nodeCount {
            let bottom = (layer.max() ?? 0) + 1
            for v in 0..<nodeCount where indegree[v] > 0 { layer[v] = bottom }
        }
        return layer
    }
}
