// GIF decoding, rendering and encoding with giflib, one frame at a time (codecs.h).
#include <gif_lib.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <unordered_map>

#include "image/codecs.h"
#include "image/logo.h"
#include "image/pixels.h"

namespace image::internal {
namespace {

struct Reader {
  std::string_view data;
  size_t at = 0;
};

int ReadFn(GifFileType* gif, GifByteType* buf, int len) {
  auto* r = static_cast<Reader*>(gif->UserData);
  const size_t n = std::min<size_t>(static_cast<size_t>(std::max(len, 0)), r->data.size() - r->at);
  std::memcpy(buf, r->data.data() + r->at, n);
  r->at += n;
  return static_cast<int>(n);
}

struct Writer {
  std::string out;
  uint64_t max = 0;
  bool over = false;
};

int WriteFn(GifFileType* gif, const GifByteType* buf, int len) {
  auto* w = static_cast<Writer*>(gif->UserData);
  if (w->out.size() + static_cast<size_t>(len) > w->max) {
    w->over = true;
    return 0;
  }
  w->out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(len));
  return len;
}

struct GifDecoderCloser {
  void operator()(GifFileType* gif) const {
    int err;
    DGifCloseFile(gif, &err);
  }
};

common::Status GifError(const char* what, int code) {
  const char* text = GifErrorString(code);
  return common::InvalidArgument(std::string(what) + ": " +
                                 (text != nullptr ? text : "giflib error"));
}

// One rendered frame: the whole screen as RGBA8, and how long it shows.
struct Frame {
  const uint8_t* rgba;
  int delay_cs;  // hundredths of a second
};

// Renders the frames of a GIF one after the other (browsers' semantics: the screen starts
// transparent, disposal "background" clears to transparent).
class GifRenderer {
 public:
  common::Status Open(std::string_view data, const DecodeLimits& limits) {
    reader_.data = data;
    int err = 0;
    gif_.reset(DGifOpen(&reader_, ReadFn, &err));
    if (!gif_) return GifError("bad GIF", err);
    w_ = gif_->SWidth;
    h_ = gif_->SHeight;
    DAT_RETURN_IF_ERROR(CheckLimits("GIF", w_, h_, 9, limits));
    max_total_ = limits.max_pixels * 10;
    canvas_.assign(static_cast<size_t>(w_) * h_ * 4, 0);
    return common::Status::Ok();
  }
  int width() const { return w_; }
  int height() const { return h_; }
  int loop_count() const { return loop_count_; }

  // Calls on_frame for each frame in order; stops after `max_frames`.
  common::Status Run(const std::function<common::Status(const Frame&)>& on_frame, int max_frames) {
    int frames = 0;
    for (;;) {
      GifRecordType type;
      if (DGifGetRecordType(gif_.get(), &type) == GIF_ERROR)
        return GifError("corrupt GIF", gif_->Error);
      if (type == TERMINATE_RECORD_TYPE) break;
      if (type == EXTENSION_RECORD_TYPE) {
        DAT_RETURN_IF_ERROR(ReadExtension());
        continue;
      }
      if (type != IMAGE_DESC_RECORD_TYPE)
        return common::InvalidArgument("corrupt GIF: unknown record");
      DAT_RETURN_IF_ERROR(DrawFrame());
      DAT_RETURN_IF_ERROR(on_frame(Frame{canvas_.data(), gcb_.DelayTime}));
      if (++frames >= max_frames) {
        if (max_frames == kMaxAnimationFrames) {
          return common::ResourceExhausted("GIF has more than " +
                                           std::to_string(kMaxAnimationFrames) + " frames");
        }
        return common::Status::Ok();
      }
      EndFrame();
    }
    if (frames == 0) return common::InvalidArgument("bad GIF: no frames");
    return common::Status::Ok();
  }

 private:
  common::Status ReadExtension() {
    int code = 0;
    GifByteType* ext = nullptr;
    if (DGifGetExtension(gif_.get(), &code, &ext) == GIF_ERROR)
      return GifError("corrupt GIF", gif_->Error);
    bool netscape = false;
    bool first = true;
    while (ext != nullptr) {
      if (code == GRAPHICS_EXT_FUNC_CODE && first && ext[0] >= 4) {
        DGifExtensionToGCB(ext[0], ext + 1, &gcb_);
      } else if (code == APPLICATION_EXT_FUNC_CODE && first && ext[0] >= 11) {
        netscape = std::memcmp(ext + 1, "NETSCAPE2.0", 11) == 0;
      } else if (netscape && !first && ext[0] >= 3 && ext[1] == 1) {
        loop_count_ = ext[2] | (ext[3] << 8);
      }
      first = false;
      if (DGifGetExtensionNext(gif_.get(), &ext) == GIF_ERROR)
        return GifError("corrupt GIF", gif_->Error);
    }
    return common::Status::Ok();
  }

  common::Status DrawFrame() {
    if (DGifGetImageDesc(gif_.get()) == GIF_ERROR) return GifError("corrupt GIF", gif_->Error);
    // giflib keeps a record per frame; only the current one is needed.
    const GifImageDesc desc = gif_->Image;
    total_ += static_cast<uint64_t>(desc.Width) * desc.Height + static_cast<uint64_t>(w_) * h_;
    if (total_ > max_total_) {
      return common::ResourceExhausted("GIF frames hold more than " + std::to_string(max_total_) +
                                       " pixels in all");
    }
    const ColorMapObject* map = desc.ColorMap != nullptr ? desc.ColorMap : gif_->SColorMap;
    if (map == nullptr) return common::InvalidArgument("bad GIF: a frame has no colour table");
    frame_ = Rect{desc.Left, desc.Top, desc.Width, desc.Height};
    if (gcb_.DisposalMode == DISPOSE_PREVIOUS) saved_ = canvas_;
    std::vector<GifPixelType> line(static_cast<size_t>(std::max(desc.Width, 0)));
    static constexpr int kStart[4] = {0, 4, 2, 1}, kStep[4] = {8, 8, 4, 2};
    const int passes = desc.Interlace ? 4 : 1;
    for (int pass = 0; pass < passes; ++pass) {
      const int start = desc.Interlace ? kStart[pass] : 0, step = desc.Interlace ? kStep[pass] : 1;
      for (int y = start; y < desc.Height; y += step) {
        if (DGifGetLine(gif_.get(), line.data(), desc.Width) == GIF_ERROR) {
          return GifError("corrupt GIF", gif_->Error);
        }
        DrawLine(line.data(), desc.Left, desc.Top + y, desc.Width, map);
      }
    }
    return common::Status::Ok();
  }

  void DrawLine(const GifPixelType* line, int left, int y, int width, const ColorMapObject* map) {
    if (y < 0 || y >= h_) return;
    for (int x = 0; x < width; ++x) {
      const int cx = left + x;
      const int index = line[x];
      if (cx < 0 || cx >= w_ || index == gcb_.TransparentColor || index >= map->ColorCount)
        continue;
      uint8_t* px = &canvas_[(static_cast<size_t>(y) * w_ + cx) * 4];
      px[0] = map->Colors[index].Red;
      px[1] = map->Colors[index].Green;
      px[2] = map->Colors[index].Blue;
      px[3] = 255;
    }
  }

  // Applies the finished frame's disposal and forgets its control block.
  void EndFrame() {
    if (gcb_.DisposalMode == DISPOSE_BACKGROUND) {
      for (int y = std::max(frame_.y, 0); y < std::min(frame_.y + frame_.h, h_); ++y) {
        const int x0 = std::max(frame_.x, 0), x1 = std::min(frame_.x + frame_.w, w_);
        if (x1 > x0) {
          std::memset(&canvas_[(static_cast<size_t>(y) * w_ + x0) * 4], 0,
                      static_cast<size_t>(x1 - x0) * 4);
        }
      }
    } else if (gcb_.DisposalMode == DISPOSE_PREVIOUS && !saved_.empty()) {
      canvas_.swap(saved_);
    }
    gcb_ = GraphicsControlBlock{0, false, 0, NO_TRANSPARENT_COLOR};
  }

  struct Rect {
    int x, y, w, h;
  };
  Reader reader_;
  std::unique_ptr<GifFileType, GifDecoderCloser> gif_;
  int w_ = 0, h_ = 0;
  int loop_count_ = -1;  // -1: no loop extension
  uint64_t total_ = 0, max_total_ = 0;
  std::vector<uint8_t> canvas_, saved_;
  GraphicsControlBlock gcb_{0, false, 0, NO_TRANSPARENT_COLOR};
  Rect frame_{0, 0, 0, 0};
};

// Maps a frame's colours to at most 256 palette entries: exact while there is room, the
// nearest entry after that. Index 0 is transparent when the frame has transparent pixels.
class Palette {
 public:
  explicit Palette(bool transparent) : transparent_(transparent) {
    if (transparent) colors_.push_back(GifColorType{0, 0, 0});
  }
  bool transparent() const { return transparent_; }
  GifPixelType Index(const uint8_t* px) {
    if (transparent_ && px[3] < 128) return 0;
    const uint32_t key = (px[0] << 16) | (px[1] << 8) | px[2];
    auto it = index_.find(key);
    if (it != index_.end()) return it->second;
    GifPixelType i;
    if (colors_.size() < 256) {
      i = static_cast<GifPixelType>(colors_.size());
      colors_.push_back(GifColorType{px[0], px[1], px[2]});
    } else {
      i = Nearest(px);
    }
    index_.emplace(key, i);
    return i;
  }
  // A giflib colour map (a power of two of entries). The caller frees it.
  ColorMapObject* MakeMap() const {
    int size = 2;
    while (size < static_cast<int>(colors_.size())) size *= 2;
    std::vector<GifColorType> colors(colors_);
    colors.resize(size, GifColorType{0, 0, 0});
    return GifMakeMapObject(size, colors.data());
  }

 private:
  GifPixelType Nearest(const uint8_t* px) const {
    int best = transparent_ ? 1 : 0;
    int best_d = INT32_MAX;
    for (int i = transparent_ ? 1 : 0; i < static_cast<int>(colors_.size()); ++i) {
      const int dr = colors_[i].Red - px[0], dg = colors_[i].Green - px[1],
                db = colors_[i].Blue - px[2];
      const int d = 3 * dr * dr + 4 * dg * dg + 2 * db * db;
      if (d < best_d) best = i, best_d = d;
    }
    return static_cast<GifPixelType>(best);
  }
  bool transparent_;
  std::vector<GifColorType> colors_;
  std::unordered_map<uint32_t, GifPixelType> index_;
};

struct GifEncoderCloser {
  void operator()(GifFileType* gif) const {
    int err;
    EGifCloseFile(gif, &err);
  }
};

// Writes frames as full-screen GIF images.
class GifWriter {
 public:
  common::Status Open(int w, int h, int loop_count, uint64_t max_bytes) {
    w_ = w;
    h_ = h;
    writer_.max = max_bytes;
    int err = 0;
    gif_.reset(EGifOpen(&writer_, WriteFn, &err));
    if (!gif_) return common::Internal("EGifOpen failed");
    EGifSetGifVersion(gif_.get(), true);
    if (EGifPutScreenDesc(gif_.get(), w, h, 8, 0, nullptr) == GIF_ERROR) return Error();
    if (loop_count >= 0) {
      const unsigned char loop[3] = {1, static_cast<unsigned char>(loop_count & 0xFF),
                                     static_cast<unsigned char>(loop_count >> 8)};
      if (EGifPutExtensionLeader(gif_.get(), APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
          EGifPutExtensionBlock(gif_.get(), 11, "NETSCAPE2.0") == GIF_ERROR ||
          EGifPutExtensionBlock(gif_.get(), 3, loop) == GIF_ERROR ||
          EGifPutExtensionTrailer(gif_.get()) == GIF_ERROR) {
        return Error();
      }
    }
    line_.resize(static_cast<size_t>(w));
    return common::Status::Ok();
  }

  common::Status Add(const uint8_t* rgba, int delay_cs) {
    const size_t pixels = static_cast<size_t>(w_) * h_;
    bool transparent = false;
    for (size_t i = 0; i < pixels && !transparent; ++i) transparent = rgba[i * 4 + 3] < 128;
    Palette palette(transparent);
    // Two passes: the palette must be complete before the first line is written.
    std::vector<GifPixelType> indices(pixels);
    for (size_t i = 0; i < pixels; ++i) indices[i] = palette.Index(rgba + i * 4);
    GraphicsControlBlock gcb{transparent ? DISPOSE_BACKGROUND : DISPOSE_DO_NOT, false, delay_cs,
                             transparent ? 0 : NO_TRANSPARENT_COLOR};
    GifByteType ext[4];
    EGifGCBToExtension(&gcb, ext);
    if (EGifPutExtension(gif_.get(), GRAPHICS_EXT_FUNC_CODE, 4, ext) == GIF_ERROR) return Error();
    ColorMapObject* map = palette.MakeMap();
    if (map == nullptr) return common::Internal("GifMakeMapObject failed");
    const int rc = EGifPutImageDesc(gif_.get(), 0, 0, w_, h_, false, map);
    GifFreeMapObject(map);
    if (rc == GIF_ERROR) return Error();
    for (int y = 0; y < h_; ++y) {
      if (EGifPutLine(gif_.get(), indices.data() + static_cast<size_t>(y) * w_, w_) == GIF_ERROR) {
        return Error();
      }
    }
    return common::Status::Ok();
  }

  bool over() const { return writer_.over; }

  common::Result<std::string> Finish() {
    int err = 0;
    const int rc = EGifCloseFile(gif_.release(), &err);
    if (rc == GIF_ERROR) return Error();
    return std::move(writer_.out);
  }

 private:
  common::Status Error() const {
    if (writer_.over) {
      return common::ResourceExhausted("the GIF would exceed " + std::to_string(writer_.max) +
                                       " bytes");
    }
    return common::Internal("GIF encoding failed");
  }
  int w_ = 0, h_ = 0;
  Writer writer_;
  std::unique_ptr<GifFileType, GifEncoderCloser> gif_;
  std::vector<GifPixelType> line_;
};

}  // namespace

common::Result<ImageInfo> ReadGifInfo(std::string_view data) {
  Reader reader{data};
  int err = 0;
  std::unique_ptr<GifFileType, GifDecoderCloser> gif(DGifOpen(&reader, ReadFn, &err));
  if (!gif) return GifError("bad GIF", err);
  ImageInfo info;
  info.width = gif->SWidth;
  info.height = gif->SHeight;
  info.has_alpha = true;
  return info;
}

common::Result<GifOutput> WatermarkGif(std::string_view data, const DecodeLimits& limits,
                                       const LogoPlacement& logo, uint64_t max_output_bytes) {
  GifRenderer renderer;
  DAT_RETURN_IF_ERROR(renderer.Open(data, limits));
  GifWriter writer;
  GifOutput out;
  LogoStamp stamp(&logo);
  const size_t stride = static_cast<size_t>(renderer.width()) * 4;
  bool opened = false;
  common::Status run = renderer.Run(
      [&](const Frame& f) -> common::Status {
        // The loop extension precedes the first frame, so it is known here.
        if (!opened) {
          DAT_RETURN_IF_ERROR(writer.Open(renderer.width(), renderer.height(),
                                          renderer.loop_count(), max_output_bytes));
          opened = true;
        }
        auto* canvas = const_cast<uint8_t*>(f.rgba);
        stamp.Apply(canvas, stride);
        common::Status added = writer.Add(canvas, f.delay_cs);
        stamp.Undo(canvas, stride);
        ++out.frames;
        return added;
      },
      kMaxAnimationFrames);
  if (writer.over()) {
    out.too_large = true;
    return out;
  }
  DAT_RETURN_IF_ERROR(run);
  auto written = writer.Finish();
  if (writer.over()) {
    out.too_large = true;
    return out;
  }
  if (!written.ok()) return written.status();
  out.data = std::move(*written);
  return out;
}

common::Result<std::unique_ptr<RowSource>> OpenGifFirstFrame(std::string_view data,
                                                             const DecodeLimits& limits) {
  auto renderer = std::make_shared<GifRenderer>();
  DAT_RETURN_IF_ERROR(renderer->Open(data, limits));
  const uint8_t* first = nullptr;
  DAT_RETURN_IF_ERROR(renderer->Run(
      [&](const Frame& f) {
        first = f.rgba;
        return common::Status::Ok();
      },
      1));
  return std::unique_ptr<RowSource>(
      std::make_unique<InterleavedRows>(first, static_cast<size_t>(renderer->width()) * 4, 4,
                                        renderer->width(), renderer->height(), true, renderer));
}

}  // namespace image::internal
