// TIFF decoding with libtiff, from memory (codecs.h), opened on first use (shared_library.h).
#include <tiffio.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "image/codecs.h"
#include "image/shared_library.h"

namespace image::internal {
namespace {

// The libtiff functions this decoder calls.
#define DAT_LIBTIFF_FUNCTIONS(X)          \
  X(TIFFOpenOptionsAlloc)                 \
  X(TIFFOpenOptionsSetMaxSingleMemAlloc)  \
  X(TIFFOpenOptionsSetErrorHandlerExtR)   \
  X(TIFFOpenOptionsSetWarningHandlerExtR) \
  X(TIFFOpenOptionsFree)                  \
  X(TIFFClientOpenExt)                    \
  X(TIFFClose)                            \
  X(TIFFGetField)                         \
  X(TIFFReadRGBAImageOriented)

DAT_LIBRARY_API(TiffApi, DAT_LIBTIFF_FUNCTIONS);

// libtiff's functions, loaded on the first TIFF file (DAT_LIBTIFF_SONAME and _PACKAGE come from the
// build: src/image/CMakeLists.txt).
common::Result<const TiffApi*> Libtiff() {
  return LoadedApi<TiffApi>(DAT_LIBTIFF_SONAME, DAT_LIBTIFF_PACKAGE, "TIFF");
}

// The memory "file" libtiff reads through its client callbacks, and the first error message.
struct MemoryFile {
  std::string_view data;
  uint64_t at = 0;
  std::string error;
};

tmsize_t Read(thandle_t h, void* buf, tmsize_t size) {
  auto* f = static_cast<MemoryFile*>(h);
  if (size < 0 || f->at >= f->data.size()) return 0;
  const uint64_t n = std::min<uint64_t>(static_cast<uint64_t>(size), f->data.size() - f->at);
  std::memcpy(buf, f->data.data() + f->at, n);
  f->at += n;
  return static_cast<tmsize_t>(n);
}
tmsize_t Write(thandle_t, void*, tmsize_t) { return 0; }
toff_t Seek(thandle_t h, toff_t off, int whence) {
  auto* f = static_cast<MemoryFile*>(h);
  uint64_t base = whence == SEEK_CUR ? f->at : whence == SEEK_END ? f->data.size() : 0;
  if (off > UINT64_MAX - base) return static_cast<toff_t>(-1);
  f->at = base + off;
  return f->at;
}
int Close(thandle_t) { return 0; }
toff_t Size(thandle_t h) { return static_cast<MemoryFile*>(h)->data.size(); }
int Map(thandle_t, void**, toff_t*) { return 0; }
void Unmap(thandle_t, void*, toff_t) {}

int OnError(TIFF*, void* user, const char* module, const char* fmt, va_list ap) {
  auto* f = static_cast<MemoryFile*>(user);
  if (f->error.empty()) {
    char buffer[256];
    std::vsnprintf(buffer, sizeof buffer, fmt, ap);
    f->error = std::string(module != nullptr ? module : "libtiff") + ": " + buffer;
  }
  return 1;
}
int OnWarning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

using TiffPtr = std::unique_ptr<TIFF, decltype(&TIFFClose)>;

// Opens the first directory; single allocations inside libtiff are capped at max_alloc.
common::Result<TiffPtr> Open(const TiffApi& api, MemoryFile* file, uint64_t max_alloc) {
  TIFFOpenOptions* opts = api.TIFFOpenOptionsAlloc();
  api.TIFFOpenOptionsSetMaxSingleMemAlloc(opts, static_cast<tmsize_t>(max_alloc));
  api.TIFFOpenOptionsSetErrorHandlerExtR(opts, OnError, file);
  api.TIFFOpenOptionsSetWarningHandlerExtR(opts, OnWarning, file);
  TIFF* tif =
      api.TIFFClientOpenExt("input", "rm", file, Read, Write, Seek, Close, Size, Map, Unmap, opts);
  api.TIFFOpenOptionsFree(opts);
  if (tif == nullptr) {
    return common::InvalidArgument("bad TIFF: " +
                                   (file->error.empty() ? "cannot open it" : file->error));
  }
  return TiffPtr(tif, api.TIFFClose);
}

ImageInfo InfoOf(const TiffApi& api, TIFF* tif) {
  uint32_t w = 0, h = 0;
  uint16_t extra = 0;
  uint16_t* types = nullptr;
  api.TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
  api.TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
  ImageInfo info;
  info.width = w > 0x7fffffff ? -1 : static_cast<int>(w);
  info.height = h > 0x7fffffff ? -1 : static_cast<int>(h);
  info.has_alpha = api.TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &extra, &types) == 1 && extra > 0;
  return info;
}

}  // namespace

common::Result<ImageInfo> ReadTiffInfo(std::string_view data) {
  DAT_ASSIGN_OR_RETURN(const TiffApi* api, Libtiff());
  MemoryFile file;
  file.data = data;
  DAT_ASSIGN_OR_RETURN(TiffPtr tif, Open(*api, &file, 64u << 20));
  return InfoOf(*api, tif.get());
}

common::Result<std::unique_ptr<RowSource>> OpenTiffRows(std::string_view data,
                                                        const DecodeLimits& limits) {
  DAT_ASSIGN_OR_RETURN(const TiffApi* api, Libtiff());
  MemoryFile file;
  file.data = data;
  DAT_ASSIGN_OR_RETURN(TiffPtr tif, Open(*api, &file, limits.max_decoded_bytes));
  const ImageInfo info = InfoOf(*api, tif.get());
  // The RGBA raster, and libtiff's strip or tile buffers (counted as 2 more bytes a pixel).
  DAT_RETURN_IF_ERROR(CheckLimits("TIFF", info.width, info.height, 6, limits));
  const size_t pixels = static_cast<size_t>(info.width) * info.height;
  std::shared_ptr<uint32_t> raster(new uint32_t[pixels], std::default_delete<uint32_t[]>());
  if (!api->TIFFReadRGBAImageOriented(tif.get(), info.width, info.height, raster.get(),
                                      ORIENTATION_TOPLEFT, 1)) {
    return common::InvalidArgument("corrupt TIFF: " +
                                   (file.error.empty() ? "cannot decode it" : file.error));
  }
  // TIFFGetR/G/B/A: R in the low byte, so in memory (little-endian) the words are R,G,B,A.
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "RGBA byte order");
  const auto* base = reinterpret_cast<const uint8_t*>(raster.get());
  return std::unique_ptr<RowSource>(
      std::make_unique<InterleavedRows>(base, static_cast<size_t>(info.width) * 4, 4, info.width,
                                        info.height, info.has_alpha, std::move(raster)));
}

}  // namespace image::internal
