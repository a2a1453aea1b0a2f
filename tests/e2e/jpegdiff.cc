// jpegdiff A B: decodes two JPEGs of the same size with libjpeg and prints, as JSON, where
// their pixels differ: {"width","height","diff_pixels","bbox":[x0,y0,x1,y1]} (bbox null when
// identical). The end-to-end test uses it to check that a posted image carries the watermark
// in one corner and is otherwise identical to the upload.
// jpeglib.h needs <cstdio> (FILE, size_t) first.
#include <cstddef>
#include <cstdio>
// clang-format off
#include <jpeglib.h>
// clang-format on

#include <algorithm>
#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  jmp_buf jump;
};

void OnError(j_common_ptr cinfo) { longjmp(reinterpret_cast<ErrorManager*>(cinfo->err)->jump, 1); }

bool Decode(const std::string& path, int* w, int* h, std::vector<unsigned char>* rgb) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty()) return false;
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = OnError;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  *w = static_cast<int>(cinfo.output_width);
  *h = static_cast<int>(cinfo.output_height);
  rgb->assign(static_cast<size_t>(*w) * *h * 3, 0);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = &(*rgb)[static_cast<size_t>(cinfo.output_scanline) * *w * 3];
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: jpegdiff A.jpg B.jpg\n");
    return 2;
  }
  int wa, ha, wb, hb;
  std::vector<unsigned char> a, b;
  if (!Decode(argv[1], &wa, &ha, &a) || !Decode(argv[2], &wb, &hb, &b)) {
    std::fprintf(stderr, "jpegdiff: cannot decode one of the inputs\n");
    return 1;
  }
  if (wa != wb || ha != hb) {
    std::printf(
        "{\"width\":%d,\"height\":%d,\"other_width\":%d,\"other_height\":%d,\"size_differs\":true}"
        "\n",
        wa, ha, wb, hb);
    return 0;
  }
  long diff = 0;
  int x0 = wa, y0 = ha, x1 = -1, y1 = -1;
  for (int y = 0; y < ha; ++y) {
    for (int x = 0; x < wa; ++x) {
      size_t i = (static_cast<size_t>(y) * wa + x) * 3;
      if (a[i] != b[i] || a[i + 1] != b[i + 1] || a[i + 2] != b[i + 2]) {
        ++diff;
        x0 = std::min(x0, x);
        y0 = std::min(y0, y);
        x1 = std::max(x1, x);
        y1 = std::max(y1, y);
      }
    }
  }
  if (diff == 0) {
    std::printf("{\"width\":%d,\"height\":%d,\"diff_pixels\":0,\"bbox\":null}\n", wa, ha);
  } else {
    std::printf("{\"width\":%d,\"height\":%d,\"diff_pixels\":%ld,\"bbox\":[%d,%d,%d,%d]}\n", wa, ha,
                diff, x0, y0, x1, y1);
  }
  return 0;
}
