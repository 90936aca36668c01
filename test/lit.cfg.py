# lit configuration for cnnc: every .cnn, .cnnir and .onnxtxt under test/.
import os, shutil, lit.formats
config.name = 'cnnc'
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = ['.cnn', '.cnnir', '.onnxtxt']
config.excludes = ['Inputs', 'unit', 'CMakeLists.txt']
config.test_source_root = os.path.join(config.cnnc_src_root, 'test')
config.test_exec_root = os.path.join(config.cnnc_obj_root, 'test')
config.environment['FILECHECK_OPTS'] = '-enable-var-scope'
config.environment['PATH'] = os.pathsep.join([os.path.join(config.cnnc_obj_root, 'bin'), config.llvm_tools_dir, config.environment.get('PATH', '')])
config.substitutions.append(('%examples', os.path.join(config.cnnc_src_root, 'examples')))
# Cross-compiled ARM models run under user-mode QEMU when both tools are here.
if shutil.which('qemu-aarch64') and shutil.which('aarch64-linux-gnu-gcc'):
    config.available_features.add('qemu-aarch64')
# Debian's dataset-fashion-mnist (scripts/setup.sh installs it): real data for
# the training tests.
config.fashion_mnist = '/usr/share/datasets/fashion-mnist'
if os.path.isdir(config.fashion_mnist):
    config.available_features.add('fashion-mnist')
config.substitutions.append(('%fashion', config.fashion_mnist))
# GPU targets. OpenCL runs on the CPU through PoCL (an ICD registered under
# /etc/OpenCL/vendors); its kernel cache stays in the build tree. ptxas (the
# CUDA toolkit) assembles the PTX of CUDA models; a CUDA GPU runs them.
import ctypes, glob
if glob.glob('/etc/OpenCL/vendors/*.icd'):
    try:
        ctypes.CDLL('libOpenCL.so.1')
        config.available_features.add('opencl')
    except OSError:
        pass
config.environment['POCL_CACHE_DIR'] = os.path.join(config.cnnc_obj_root, 'pocl-cache')
if 'HOME' in os.environ:
    config.environment['HOME'] = os.environ['HOME']
config.ptxas = shutil.which('ptxas') or '/usr/local/cuda/bin/ptxas'
if os.access(config.ptxas, os.X_OK):
    config.available_features.add('ptxas')
config.substitutions.append(('%ptxas', config.ptxas))
try:
    _cuda, _n = ctypes.CDLL('libcuda.so.1'), ctypes.c_int(0)
    if _cuda.cuInit(0) == 0 and _cuda.cuDeviceGetCount(ctypes.byref(_n)) == 0 and _n.value > 0:
        config.available_features.add('cuda-gpu')
except OSError:
    pass
