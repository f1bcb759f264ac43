/* heapviz report explorer: the embedded stack table's binary block (heapviz/report/explorer_pack.py)
 * decoded in the page: base64, then gzip by the browser's own DecompressionStream (nothing is
 * fetched), then each array un-shuffled into its typed array and checked against its CRC-32.
 * window.heapvizExplorerData(doc) -> Promise of doc with its arrays: tree_parent (Int32Array),
 * tree_location (Int32Array), sample_stack, values[t] (typed arrays; [] where same_as[t] >= 0).
 */
(function () {
  "use strict";
  var KINDS = {Int8Array: Int8Array, Uint8Array: Uint8Array, Int16Array: Int16Array, Uint16Array: Uint16Array,
               Int32Array: Int32Array, Float64Array: Float64Array};

  function base64Bytes(text) {
    if (Uint8Array.fromBase64) { return Uint8Array.fromBase64(text); }
    var bin = atob(text), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out;
  }
  function gunzip(bytes) {
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer().then(function (b) { return new Uint8Array(b); });
  }
  var CRC_TABLE = null;
  function crc32(bytes) {
    if (!CRC_TABLE) {
      CRC_TABLE = new Int32Array(256);
      for (var n = 0; n < 256; n++) {
        var c = n;
        for (var k = 0; k < 8; k++) { c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; }
        CRC_TABLE[n] = c;
      }
    }
    var crc = -1;
    for (var i = 0; i < bytes.length; i++) { crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8); }
    return (crc ^ -1) >>> 0;
  }
  // the arrays of the block: each shuffled (all first bytes, then all second bytes, ...)
  function unpack(raw, manifest) {
    var out = {}, at = 0;
    manifest.forEach(function (m) {
      var Kind = KINDS[m[1]], n = m[2], size = Kind.BYTES_PER_ELEMENT, bytes = new Uint8Array(n * size);
      if (size === 1) {
        bytes.set(raw.subarray(at, at + n));
      } else {
        for (var b = 0; b < size; b++) {
          var from = at + b * n;
          for (var i = 0; i < n; i++) { bytes[i * size + b] = raw[from + i]; }
        }
      }
      at += n * size;
      out[m[0]] = new Kind(bytes.buffer);
    });
    if (at !== raw.length) { throw new Error("the explorer's data block has " + raw.length + " bytes, its manifest " + at); }
    return out;
  }
  // the tree's parents from their differences, its locations from the transitions
  function tree(a, nLoc) {
    var n = a.tree_parent_delta.length, parent = new Int32Array(n), loc = new Int32Array(n), p = -1;
    var start = new Int32Array(nLoc + 2);
    for (var s = 0; s <= nLoc; s++) { start[s + 1] = start[s] + a.pair_count[s]; }
    for (var i = 0; i < n; i++) {
      p += a.tree_parent_delta[i];
      parent[i] = p;
      loc[i] = a.pair_child[start[p >= 0 ? loc[p] + 1 : 0] + a.tree_code[i]];
    }
    return {parent: parent, location: loc};
  }

  window.heapvizExplorerData = function (doc) {
    var bin = doc.binary;
    return gunzip(base64Bytes(bin.gzip_base64)).then(function (raw) {
      var crc = crc32(raw);
      if (crc !== bin.crc32) { throw new Error("the explorer's data block is damaged (CRC-32 " + crc + ", want " + bin.crc32 + ")"); }
      var a = unpack(raw, bin.arrays), t = tree(a, doc.loc_binary.length);
      doc.tree_parent = t.parent;
      doc.tree_location = t.location;
      doc.sample_stack = a.sample_stack;
      doc.values = doc.same_as.map(function (same, i) { return same >= 0 ? [] : a["values_" + i]; });
      doc.decoded_crc32 = crc;
      delete bin.gzip_base64;  // the text is not needed again
      return doc;
    });
  };
})();
