#include "image/jpeg_libjpeg.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "image/exif.h"
#include "image/huge_alloc.h"
#include "image/jpeg_block.h"
#include "image/jpeg_huffman.h"
#include "image/jpeg_parse.h"
#include "image/logo.h"

namespace image::internal {
namespace {

void ErrorExit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  char buffer[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, buffer);
  if (err->message && err->message->empty()) *err->message = buffer;
  longjmp(err->jump, 1);
}

void EmitMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
      ErrorExit(cinfo);  // corrupt or truncated data: refuse rather than invent pixels
      break;
    default:
      cinfo->err->num_warnings++;
  }
}

void OutputMessage(j_common_ptr) {}

void ProgressMonitor(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > kMaxScans) {
    auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
    if (err->message) *err->message = "JPEG has more than " + std::to_string(kMaxScans) + " scans";
    longjmp(err->jump, 1);
  }
}

// A libjpeg destination writing into a std::string (standard layout: `pub` first).
struct StringDestination {
  jpeg_destination_mgr pub;
  std::string* out;
};

// Owns a decompress/compress pair and the output buffer; destroys them on every return path.
struct Codec {
  JpegErrorManager err;
  jpeg_decompress_struct src;
  jpeg_compress_struct dst;
  bool src_live = false;
  bool dst_live = false;
  // The encoder writes straight into `out` (see StringDestination): no realloc-and-copy of
  // jpeg_mem_dest, no final copy.
  StringDestination dest;
  std::string out;
  std::string message;

  Codec() {
    std::memset(&src, 0, sizeof src);
    std::memset(&dst, 0, sizeof dst);
  }
  ~Codec() {
    if (dst_live) jpeg_destroy_compress(&dst);
    if (src_live) jpeg_destroy_decompress(&src);
  }
  common::Status Error(const char* what) const {
    return common::InvalidArgument(std::string(what) + ": " +
                                   (message.empty() ? "libjpeg error" : message));
  }
};

// A libjpeg destination that writes into Codec::out, which the caller sized beforehand.
void InitDestination(j_compress_ptr cinfo) {
  std::string* out = reinterpret_cast<StringDestination*>(cinfo->dest)->out;
  if (out->empty()) out->resize(1 << 16);
  cinfo->dest->next_output_byte = reinterpret_cast<JOCTET*>(out->data());
  cinfo->dest->free_in_buffer = out->size();
}

boolean EmptyOutputBuffer(j_compress_ptr cinfo) {
  std::string* out = reinterpret_cast<StringDestination*>(cinfo->dest)->out;
  const size_t used = out->size();
  try {
    out->resize(used * 2);
  } catch (...) {
    ERREXIT(cinfo, JERR_OUT_OF_MEMORY);
  }
  cinfo->dest->next_output_byte = reinterpret_cast<JOCTET*>(out->data() + used);
  cinfo->dest->free_in_buffer = out->size() - used;
  return TRUE;
}

void TermDestination(j_compress_ptr cinfo) {
  std::string* out = reinterpret_cast<StringDestination*>(cinfo->dest)->out;
  out->resize(out->size() - cinfo->dest->free_in_buffer);
}

// Points the compressor at Codec::out, pre-sized to `expected` bytes (a guess; it grows).
void UseStringDestination(Codec* c, size_t expected) {
  c->out.reserve(expected);
  AdviseHugePages(c->out.data(), c->out.capacity());
  c->out.resize(expected);
  c->dest.out = &c->out;
  c->dest.pub.init_destination = InitDestination;
  c->dest.pub.empty_output_buffer = EmptyOutputBuffer;
  c->dest.pub.term_destination = TermDestination;
  c->dst.dest = &c->dest.pub;
}

// Creates the decompressor on `input` and reads the header. Returns false on error.
bool OpenSource(Codec* c, std::string_view input) {
  InstallErrorManager(&c->err, reinterpret_cast<j_common_ptr>(&c->src), &c->message);
  return CatchJpeg(&c->err, [&] {
    jpeg_create_decompress(&c->src);
    c->src_live = true;
    c->src.progress = &c->err.progress;
    jpeg_mem_src(&c->src, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    SaveMarkers(&c->src);
    jpeg_read_header(&c->src, TRUE);
  });
}

common::Status CheckPixels(const jpeg_decompress_struct& src, uint64_t max_pixels) {
  const uint64_t pixels = static_cast<uint64_t>(src.image_width) * src.image_height;
  if (pixels > max_pixels) {
    return common::ResourceExhausted("JPEG declares " + std::to_string(src.image_width) + "x" +
                                     std::to_string(src.image_height) +
                                     " pixels, over the limit of " + std::to_string(max_pixels));
  }
  return common::Status::Ok();
}

// Symbol frequencies per Huffman table (the destination's table numbers) of a sequential
// Huffman scan of every coefficient.
struct SymbolCounts {
  uint32_t dc[4][256];
  uint32_t ac[4][256];
};

int Category(int v) {
  const unsigned a = static_cast<unsigned>(v < 0 ? -v : v);
  return std::min(a == 0 ? 0 : 32 - __builtin_clz(a), 15);
}

// Counts the symbols a sequential scan of `coefs` holds, in one pass over the coefficients
// (libjpeg's optimize_coding runs its whole encoder once more to count them). DC differences
// are taken along each component's block rows, which is close to, not exactly, the interleaved
// order; UseOptimalTables therefore keeps a code for every symbol. Only calls libjpeg (may
// longjmp): creates no C++ object with a destructor.
void CountSymbols(j_decompress_ptr src, jvirt_barray_ptr* coefs, j_compress_ptr dst,
                  SymbolCounts* counts) {
  std::memset(counts, 0, sizeof *counts);
  uint8_t zigzag[64];  // natural index -> zig-zag position
  for (int k = 0; k < 64; ++k) zigzag[kZigzagToNatural[k]] = static_cast<uint8_t>(k);
  for (int ci = 0; ci < src->num_components; ++ci) {
    const jpeg_component_info* comp = &src->comp_info[ci];
    uint32_t* dc = counts->dc[dst->comp_info[ci].dc_tbl_no & 3];
    uint32_t* ac = counts->ac[dst->comp_info[ci].ac_tbl_no & 3];
    int pred = 0;
    for (JDIMENSION by = 0; by < comp->height_in_blocks; ++by) {
      JBLOCKARRAY row = (*src->mem->access_virt_barray)(reinterpret_cast<j_common_ptr>(src),
                                                        coefs[ci], by, 1, FALSE);
      for (JDIMENSION bx = 0; bx < comp->width_in_blocks; ++bx) {
        const JCOEF* b = row[0][bx];
        ++dc[Category(b[0] - pred)];
        pred = b[0];
        // The non-zero AC coefficients as bits in zig-zag order, then walked run by run.
        uint64_t nonzero = 0;
        for (int i = 1; i < 64; ++i) nonzero |= uint64_t{b[i] != 0} << zigzag[i];
        int last = 0;
        while (nonzero != 0) {
          const int k = __builtin_ctzll(nonzero);
          nonzero &= nonzero - 1;
          int run = k - last - 1;
          for (; run > 15; run -= 16) ++ac[0xF0];
          ++ac[(run << 4) | Category(b[kZigzagToNatural[k]])];
          last = k;
        }
        if (last < 63) ++ac[0];
      }
    }
  }
}

// Gives the destination optimal tables for `counts`, with a code for every symbol a baseline
// scan may hold (frequency at least 1), so that encoding cannot meet a symbol without one.
void UseOptimalTables(j_compress_ptr dst, const SymbolCounts& counts) {
  for (int cls = 0; cls < 2; ++cls) {
    for (int t = 0; t < 4; ++t) {
      bool used = false;
      for (int ci = 0; ci < dst->num_components; ++ci) {
        used =
            used || (cls == 0 ? dst->comp_info[ci].dc_tbl_no : dst->comp_info[ci].ac_tbl_no) == t;
      }
      if (!used) continue;
      uint32_t freq[256];
      std::memcpy(freq, cls == 0 ? counts.dc[t] : counts.ac[t], sizeof freq);
      if (cls == 0) {
        for (int s = 0; s <= 11; ++s) freq[s] = std::max<uint32_t>(freq[s], 1);
      } else {
        freq[0x00] = std::max<uint32_t>(freq[0x00], 1);
        freq[0xF0] = std::max<uint32_t>(freq[0xF0], 1);
        for (int r = 0; r < 16; ++r) {
          for (int s = 1; s <= 10; ++s)
            freq[(r << 4) | s] = std::max<uint32_t>(freq[(r << 4) | s], 1);
        }
      }
      HuffmanSpec spec;
      OptimalHuffmanTable(freq, &spec);
      JHUFF_TBL** slot = cls == 0 ? &dst->dc_huff_tbl_ptrs[t] : &dst->ac_huff_tbl_ptrs[t];
      if (*slot == nullptr) *slot = jpeg_alloc_huff_table(reinterpret_cast<j_common_ptr>(dst));
      std::memcpy((*slot)->bits, spec.counts, 17);
      std::memset((*slot)->huffval, 0, sizeof(*slot)->huffval);
      std::memcpy((*slot)->huffval, spec.symbols, spec.num_symbols);
      (*slot)->sent_table = FALSE;
    }
  }
}

}  // namespace

void InstallErrorManager(JpegErrorManager* err, jpeg_common_struct* cinfo, std::string* message) {
  cinfo->err = jpeg_std_error(&err->pub);
  err->pub.error_exit = ErrorExit;
  err->pub.emit_message = EmitMessage;
  err->pub.output_message = OutputMessage;
  err->message = message;
  std::memset(&err->progress, 0, sizeof err->progress);
  err->progress.progress_monitor = ProgressMonitor;
}

void SaveMarkers(jpeg_decompress_struct* src) {
  jpeg_save_markers(src, JPEG_COM, 0xFFFF);
  for (int i = 0; i < 16; ++i) jpeg_save_markers(src, JPEG_APP0 + i, 0xFFFF);
}

void CopyMarkers(jpeg_decompress_struct* src, jpeg_compress_struct* dst) {
  for (jpeg_saved_marker_ptr m = src->marker_list; m != nullptr; m = m->next) {
    const bool jfif =
        m->marker == JPEG_APP0 && m->data_length >= 5 && std::memcmp(m->data, "JFIF", 5) == 0;
    const bool adobe =
        m->marker == JPEG_APP0 + 14 && m->data_length >= 5 && std::memcmp(m->data, "Adobe", 5) == 0;
    if ((jfif && dst->write_JFIF_header) || (adobe && dst->write_Adobe_marker)) continue;
    jpeg_write_marker(dst, m->marker, m->data, m->data_length);
  }
}

int OrientationFromMarkers(jpeg_decompress_struct* src) {
  for (jpeg_saved_marker_ptr m = src->marker_list; m != nullptr; m = m->next) {
    if (m->marker == JPEG_APP0 + 1) {
      std::string_view payload(reinterpret_cast<const char*>(m->data), m->data_length);
      if (payload.substr(0, 6) == std::string_view("Exif\0\0", 6)) return ExifOrientation(payload);
    }
  }
  return 1;
}

common::Result<WatermarkResult> WatermarkJpegCoefficients(std::string_view input,
                                                          const WatermarkOptions& options,
                                                          bool optimize_huffman) {
  Codec c;
  if (!OpenSource(&c, input)) return c.Error("bad JPEG");
  DAT_RETURN_IF_ERROR(CheckPixels(c.src, options.max_pixels));

  jvirt_barray_ptr* coefs = nullptr;
  if (!CatchJpeg(&c.err, [&] { coefs = jpeg_read_coefficients(&c.src); })) {
    return c.Error("corrupt JPEG");
  }

  JpegColor color;
  switch (c.src.jpeg_color_space) {
    case JCS_GRAYSCALE:
      color = JpegColor::kGray;
      break;
    case JCS_YCbCr:
      color = JpegColor::kYCbCr;
      break;
    case JCS_RGB:
      color = JpegColor::kRgb;
      break;
    case JCS_CMYK:
      color = JpegColor::kCmyk;
      break;
    case JCS_YCCK:
      color = JpegColor::kYcck;
      break;
    default:
      return common::InvalidArgument("unsupported JPEG colour space");
  }
  JpegGeometry g;
  g.width = static_cast<int>(c.src.image_width);
  g.height = static_cast<int>(c.src.image_height);
  g.num_components = c.src.num_components;
  if (g.num_components > 1 && g.num_components <= 4) {
    g.max_h = c.src.max_h_samp_factor;
    g.max_v = c.src.max_v_samp_factor;
    for (int i = 0; i < g.num_components; ++i) {
      g.h[i] = c.src.comp_info[i].h_samp_factor;
      g.v[i] = c.src.comp_info[i].v_samp_factor;
    }
  }
  DAT_RETURN_IF_ERROR(CheckGeometry(g));

  WatermarkResult result;
  result.format = ImageFormat::kJpeg;
  result.path = WatermarkPath::kCoefficient;
  result.width = g.width;
  result.height = g.height;
  result.orientation = OrientationFromMarkers(&c.src);
  DAT_ASSIGN_OR_RETURN(LogoPlacement logo,
                       PlaceLogo(g.width, g.height, result.orientation, options));
  result.logo_box = logo.box();
  const McuBox mcus = CoveringMcus(logo.box(), g);
  if (!logo.box().empty()) result.changed_box = ChangedBox(mcus, g);

  // Composite the blocks under the logo, one MCU row at a time. Quantization tables are
  // checked to exist first: libjpeg only validates them when writing.
  if (!logo.box().empty()) {
    for (int ci = 0; ci < g.num_components; ++ci) {
      if (c.src.comp_info[ci].quant_table == nullptr) {
        return common::InvalidArgument("corrupt JPEG: missing quantization table");
      }
    }
  }
  const bool adobe_inverted =
      c.src.saw_Adobe_marker && (color == JpegColor::kCmyk || color == JpegColor::kYcck);
  std::vector<ComponentPlane> planes;
  bool ok = CatchJpeg(&c.err, [&] {
    for (int my = mcus.my0; my < mcus.my1; ++my) {
      BuildPlanes(logo, g, color, adobe_inverted, my * g.mcu_height(), (my + 1) * g.mcu_height(),
                  &planes);
      for (int ci = 0; ci < g.num_components; ++ci) {
        const ComponentPlane& plane = planes[ci];
        jpeg_component_info* comp = &c.src.comp_info[ci];
        const uint16_t* quant = comp->quant_table->quantval;
        const int bx0 = plane.x0 / 8;
        const int bx1 = std::min<int>((plane.x0 + plane.width + 7) / 8, comp->width_in_blocks);
        const int by1 = std::min<int>((my + 1) * g.v[ci], comp->height_in_blocks);
        for (int by = my * g.v[ci]; by < by1; ++by) {
          JBLOCKARRAY row = (*c.src.mem->access_virt_barray)(reinterpret_cast<j_common_ptr>(&c.src),
                                                             coefs[ci], by, 1, TRUE);
          for (int bx = bx0; bx < bx1; ++bx) WatermarkBlock(row[0][bx], quant, plane, bx, by);
        }
      }
    }
  });
  if (!ok) return c.Error("JPEG coefficient access failed");

  // Progressive input written sequentially keeps its small size with optimized tables. For a
  // sequential Huffman output they come from one count of the coefficients (CountSymbols), not
  // from libjpeg's optimize_coding, which encodes the whole picture twice.
  const bool progressive_out = c.src.progressive_mode && options.keep_progressive;
  const bool optimize = optimize_huffman || c.src.progressive_mode;
  const bool count_symbols =
      optimize && !progressive_out && !c.src.arith_code && c.src.data_precision == 8;
  SymbolCounts counts;
  ok = CatchJpeg(&c.err, [&] {
    c.dst.err = &c.err.pub;
    jpeg_create_compress(&c.dst);
    c.dst_live = true;
    UseStringDestination(&c, input.size() + input.size() / 8 + (1 << 16));
    jpeg_copy_critical_parameters(&c.src, &c.dst);
    c.dst.write_JFIF_header = c.src.saw_JFIF_marker;
    c.dst.restart_interval = c.src.restart_interval;
    c.dst.arith_code = c.src.arith_code;
    // Arithmetic coding has no Huffman tables to optimize (libjpeg refuses the request).
    c.dst.optimize_coding = optimize && !count_symbols && !c.src.arith_code ? TRUE : FALSE;
    if (count_symbols) {
      CountSymbols(&c.src, coefs, &c.dst, &counts);
      UseOptimalTables(&c.dst, counts);
    }
    if (progressive_out) jpeg_simple_progression(&c.dst);
    jpeg_write_coefficients(&c.dst, coefs);
    CopyMarkers(&c.src, &c.dst);
    jpeg_finish_compress(&c.dst);
    jpeg_finish_decompress(&c.src);
  });
  if (!ok) return c.Error("JPEG encoding failed");
  result.data = std::move(c.out);
  return result;
}

common::Result<std::string> DownscaleJpegImpl(std::string_view jpeg, int scale_denom, int quality,
                                              uint64_t max_pixels) {
  if (scale_denom != 1 && scale_denom != 2 && scale_denom != 4 && scale_denom != 8) {
    return common::InvalidArgument("scale_denom must be 1, 2, 4 or 8");
  }
  Codec c;
  if (!OpenSource(&c, jpeg)) return c.Error("bad JPEG");
  DAT_RETURN_IF_ERROR(CheckPixels(c.src, max_pixels));
  const bool cmyk = c.src.jpeg_color_space == JCS_CMYK || c.src.jpeg_color_space == JCS_YCCK;
  // Scanlines are produced and consumed one at a time: memory is one row, not the image.
  std::vector<JSAMPLE> row;
  bool ok = CatchJpeg(&c.err, [&] {
    c.src.scale_num = 1;
    c.src.scale_denom = scale_denom;
    c.src.out_color_space = cmyk                                      ? JCS_CMYK
                            : c.src.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE
                                                                      : JCS_RGB;
    jpeg_start_decompress(&c.src);
  });
  if (!ok) return c.Error("bad JPEG");
  row.resize(static_cast<size_t>(c.src.output_width) * c.src.output_components);
  ok = CatchJpeg(&c.err, [&] {
    c.dst.err = &c.err.pub;
    jpeg_create_compress(&c.dst);
    c.dst_live = true;
    UseStringDestination(&c, jpeg.size() / (scale_denom * scale_denom) + (1 << 16));
    c.dst.image_width = c.src.output_width;
    c.dst.image_height = c.src.output_height;
    c.dst.input_components = c.src.output_components;
    c.dst.in_color_space = c.src.out_color_space;
    jpeg_set_defaults(&c.dst);
    jpeg_set_quality(&c.dst, quality, TRUE);
    c.dst.write_JFIF_header = c.src.saw_JFIF_marker || !cmyk;
    jpeg_start_compress(&c.dst, TRUE);
    CopyMarkers(&c.src, &c.dst);
    JSAMPROW rows[1] = {row.data()};
    while (c.src.output_scanline < c.src.output_height) {
      jpeg_read_scanlines(&c.src, rows, 1);
      jpeg_write_scanlines(&c.dst, rows, 1);
    }
    jpeg_finish_compress(&c.dst);
    jpeg_finish_decompress(&c.src);
  });
  if (!ok) return c.Error("JPEG downscale failed");
  return std::move(c.out);
}

}  // namespace image::internal
