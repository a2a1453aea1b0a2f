// A check libheif 1.15 lacks (codecs.h: CheckHeifCodedSizes): every HEVC-coded item's picture,
// as its SPS declares it, must be at least as large as the size (ispe) the container gives
// it. libheif crops the decoded picture to ispe, and a larger ispe makes it allocate
// gigabytes. Every read is bounds-checked; what cannot be parsed is left to libheif.
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "image/codecs.h"

namespace image::internal {
namespace {

struct IsoBox {
  std::string_view type;
  std::string_view body;  // after the header
};

uint32_t Be(std::string_view s, size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

// The boxes in `data`, in order; stops at the first malformed one.
std::vector<IsoBox> Boxes(std::string_view data) {
  std::vector<IsoBox> out;
  size_t at = 0;
  while (data.size() - at >= 8) {
    uint64_t size = Be(data, at, 4);
    size_t header = 8;
    if (size == 1) {
      if (data.size() - at < 16) break;
      size = (uint64_t{Be(data, at + 8, 4)} << 32) | Be(data, at + 12, 4);
      header = 16;
    } else if (size == 0) {
      size = data.size() - at;
    }
    if (size < header || size > data.size() - at) break;
    out.push_back(IsoBox{data.substr(at + 4, 4), data.substr(at + header, size - header)});
    at += size;
  }
  return out;
}

std::optional<std::string_view> Child(std::string_view body, std::string_view type) {
  for (const IsoBox& b : Boxes(body)) {
    if (b.type == type) return b.body;
  }
  return std::nullopt;
}

// Reads bits of an RBSP (emulation prevention bytes removed).
class Bits {
 public:
  explicit Bits(std::string rbsp) : data_(std::move(rbsp)) {}
  bool ok() const { return ok_; }
  uint32_t Read(int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; ++i) {
      if (pos_ >= data_.size() * 8) {
        ok_ = false;
        return 0;
      }
      v = (v << 1) | ((static_cast<unsigned char>(data_[pos_ / 8]) >> (7 - pos_ % 8)) & 1);
      ++pos_;
    }
    return v;
  }
  uint32_t Ue() {
    int zeros = 0;
    while (ok_ && Read(1) == 0) {
      if (++zeros > 31) ok_ = false;
    }
    return ok_ ? (1u << zeros) - 1 + Read(zeros) : 0;
  }

 private:
  std::string data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// The displayed size an HEVC SPS declares (conformance window applied), if it parses.
std::optional<std::pair<uint32_t, uint32_t>> SpsSize(std::string_view nal) {
  std::string rbsp;
  for (size_t i = 0; i < nal.size(); ++i) {
    if (i >= 2 && nal[i] == 3 && nal[i - 1] == 0 && nal[i - 2] == 0) continue;
    rbsp += nal[i];
  }
  Bits b(std::move(rbsp));
  b.Read(16 + 4);  // NAL header, sps_video_parameter_set_id
  const uint32_t sub_layers = b.Read(3);
  b.Read(1 + 96);  // temporal_id_nesting, general profile/tier/level
  std::vector<std::pair<bool, bool>> present;
  for (uint32_t i = 0; i < sub_layers; ++i) {
    const bool profile = b.Read(1), level = b.Read(1);
    present.emplace_back(profile, level);
  }
  if (sub_layers > 0) b.Read(2 * (8 - sub_layers));
  for (auto [profile, level] : present) b.Read((profile ? 88 : 0) + (level ? 8 : 0));
  b.Ue();  // sps_seq_parameter_set_id
  const uint32_t chroma = b.Ue();
  if (chroma == 3) b.Read(1);
  uint32_t w = b.Ue(), h = b.Ue();
  if (b.Read(1)) {
    const uint32_t sub_w = chroma == 1 || chroma == 2 ? 2 : 1, sub_h = chroma == 1 ? 2 : 1;
    const uint64_t left = b.Ue(), right = b.Ue(), top = b.Ue(), bottom = b.Ue();
    const uint64_t crop_w = (left + right) * sub_w, crop_h = (top + bottom) * sub_h;
    w = crop_w >= w ? 0 : static_cast<uint32_t>(w - crop_w);
    h = crop_h >= h ? 0 : static_cast<uint32_t>(h - crop_h);
  }
  if (!b.ok()) return std::nullopt;
  return std::make_pair(w, h);
}

// The size of the first SPS in an hvcC box body, if it parses.
std::optional<std::pair<uint32_t, uint32_t>> HvccSize(std::string_view hvcc) {
  if (hvcc.size() < 23) return std::nullopt;
  const uint32_t arrays = Be(hvcc, 22, 1);
  size_t at = 23;
  for (uint32_t a = 0; a < arrays; ++a) {
    if (hvcc.size() - at < 3) return std::nullopt;
    const uint32_t type = Be(hvcc, at, 1) & 0x3F, count = Be(hvcc, at + 1, 2);
    at += 3;
    for (uint32_t n = 0; n < count; ++n) {
      if (hvcc.size() - at < 2) return std::nullopt;
      const uint32_t len = Be(hvcc, at, 2);
      if (hvcc.size() - at - 2 < len) return std::nullopt;
      if (type == 33) return SpsSize(hvcc.substr(at + 2, len));
      at += 2 + len;
    }
  }
  return std::nullopt;
}

// Item ids of type 'grid' (iinf with infe version 2 or 3).
std::vector<uint32_t> GridItems(std::string_view iinf) {
  std::vector<uint32_t> out;
  if (iinf.size() < 6) return out;
  const size_t first = Be(iinf, 0, 1) == 0 ? 6 : 8;
  if (iinf.size() < first) return out;
  for (const IsoBox& infe : Boxes(iinf.substr(first))) {
    if (infe.type != "infe" || infe.body.size() < 4) continue;
    const uint32_t version = Be(infe.body, 0, 1);
    const size_t id_bytes = version == 2 ? 2 : 4;
    if (version < 2 || infe.body.size() < 4 + id_bytes + 2 + 4) continue;
    if (infe.body.substr(4 + id_bytes + 2, 4) == "grid") {
      out.push_back(Be(infe.body, 4, static_cast<int>(id_bytes)));
    }
  }
  return out;
}

// The bytes of `item`'s first extent (iloc), in the file or in idat; empty if not found.
std::string_view ItemData(std::string_view file, std::string_view iloc, std::string_view idat,
                          uint32_t item) {
  if (iloc.size() < 8) return {};
  const uint32_t version = Be(iloc, 0, 1);
  const int offset_size = static_cast<int>(Be(iloc, 4, 1) >> 4);
  const int length_size = static_cast<int>(Be(iloc, 4, 1) & 15);
  const int base_size = static_cast<int>(Be(iloc, 5, 1) >> 4);
  const int index_size = version == 1 || version == 2 ? static_cast<int>(Be(iloc, 5, 1) & 15) : 0;
  const int id_bytes = version < 2 ? 2 : 4;
  size_t at = 6;
  if (iloc.size() < at + id_bytes) return {};
  const uint32_t count = Be(iloc, at, id_bytes);
  at += id_bytes;
  auto read = [&](int bytes, uint64_t* v) {
    if (bytes > 8 || iloc.size() - at < static_cast<size_t>(bytes)) return false;
    *v = 0;
    for (int i = 0; i < bytes; ++i) *v = (*v << 8) | static_cast<unsigned char>(iloc[at + i]);
    at += bytes;
    return true;
  };
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t id, method = 0, ignored, base, extents;
    if (!read(id_bytes, &id)) return {};
    if ((version == 1 || version == 2) && !read(2, &method)) return {};
    if (!read(2, &ignored) || !read(base_size, &base) || !read(2, &extents)) return {};
    for (uint64_t e = 0; e < extents; ++e) {
      uint64_t index, offset, length;
      if (!read(index_size, &index) || !read(offset_size, &offset) || !read(length_size, &length)) {
        return {};
      }
      if (id != item || e != 0) continue;
      std::string_view from = (method & 15) == 1 ? idat : file;
      const uint64_t start = base + offset;
      if (start > from.size()) return {};
      return from.substr(start, length == 0 ? from.size() - start : length);
    }
  }
  return {};
}

}  // namespace

common::Status CheckHeifGrids(std::string_view data, const DecodeLimits& limits,
                              uint64_t bytes_per_pixel) {
  std::optional<std::string_view> meta;
  for (const IsoBox& b : Boxes(data)) {
    if (b.type == "meta" && b.body.size() >= 4) meta = b.body.substr(4);
  }
  if (!meta) return common::Status::Ok();
  auto iinf = Child(*meta, "iinf");
  auto iloc = Child(*meta, "iloc");
  if (!iinf || !iloc) return common::Status::Ok();
  const std::string_view idat = Child(*meta, "idat").value_or(std::string_view());
  for (uint32_t item : GridItems(*iinf)) {
    std::string_view grid = ItemData(data, *iloc, idat, item);
    if (grid.size() < 8) continue;
    const bool wide = (Be(grid, 1, 1) & 1) != 0;
    if (wide && grid.size() < 12) continue;
    const uint32_t w = Be(grid, 4, wide ? 4 : 2), h = Be(grid, wide ? 8 : 6, wide ? 4 : 2);
    DAT_RETURN_IF_ERROR(CheckLimits("HEIF grid", w, h, bytes_per_pixel, limits));
  }
  return common::Status::Ok();
}

common::Status CheckHeifCodedSizes(std::string_view data) {
  std::optional<std::string_view> meta;
  for (const IsoBox& b : Boxes(data)) {
    if (b.type == "meta" && b.body.size() >= 4) meta = b.body.substr(4);  // a full box
  }
  if (!meta) return common::Status::Ok();
  auto iprp = Child(*meta, "iprp");
  if (!iprp) return common::Status::Ok();
  auto ipco = Child(*iprp, "ipco");
  if (!ipco) return common::Status::Ok();
  const std::vector<IsoBox> properties = Boxes(*ipco);
  for (const IsoBox& b : Boxes(*iprp)) {
    if (b.type != "ipma" || b.body.size() < 8) continue;
    const int version = static_cast<int>(Be(b.body, 0, 1));
    const bool wide = (Be(b.body, 3, 1) & 1) != 0;
    const uint32_t entries = Be(b.body, 4, 4);
    size_t at = 8;
    for (uint32_t e = 0; e < entries; ++e) {
      const size_t id_bytes = version < 1 ? 2 : 4;
      if (b.body.size() - at < id_bytes + 1) break;
      at += id_bytes;
      const uint32_t count = Be(b.body, at, 1);
      ++at;
      std::pair<uint32_t, uint32_t> coded{0, 0}, declared{0, 0};
      bool has_coded = false, has_declared = false;
      for (uint32_t i = 0; i < count; ++i) {
        const size_t n = wide ? 2 : 1;
        if (b.body.size() - at < n) return common::Status::Ok();
        const uint32_t index = Be(b.body, at, static_cast<int>(n)) & (wide ? 0x7FFF : 0x7F);
        at += n;
        if (index == 0 || index > properties.size()) continue;
        const IsoBox& p = properties[index - 1];
        if (p.type == "hvcC") {
          if (auto size = HvccSize(p.body)) coded = *size, has_coded = true;
        }
        if (p.type == "ispe" && p.body.size() >= 12) {
          declared = {Be(p.body, 4, 4), Be(p.body, 8, 4)};
          has_declared = true;
        }
      }
      if (has_coded && has_declared &&
          (declared.first > coded.first || declared.second > coded.second)) {
        return common::InvalidArgument(
            "bad HEIF: an image declares " + std::to_string(declared.first) + "x" +
            std::to_string(declared.second) + " but its HEVC picture is " +
            std::to_string(coded.first) + "x" + std::to_string(coded.second));
      }
    }
  }
  return common::Status::Ok();
}

}  // namespace image::internal
