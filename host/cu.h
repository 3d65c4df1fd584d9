// cu.h — the CUDA Driver API, loaded at run time with dlopen("libcuda.so.1").
// defines: cu_load, CU_CHECK, and every driver function we call, under its usual cuda.h name.
//
// Why not link -lcuda: a binary linked against libcuda does not even start on a machine without the NVIDIA
// driver, and the CPU reference, the tools (synth, info, tokenize) and CI all run on such machines. So the
// engine includes this header instead of calling cuda.h's functions directly: each cuXxx below is a pointer
// filled by cu_load() from the driver's versioned symbol (cuMemAlloc -> cuMemAlloc_v2, exactly as cuda.h maps it).
#pragma once
#include <cuda.h>
#include <stddef.h>

#define CU_FUNCS(X) \
    X(cuInit) \
    X(cuDriverGetVersion) \
    X(cuGetErrorName) \
    X(cuGetErrorString) \
    X(cuDeviceGet) \
    X(cuDeviceGetCount) \
    X(cuDeviceGetName) \
    X(cuDeviceGetAttribute) \
    X(cuDeviceTotalMem) \
    X(cuDevicePrimaryCtxRetain) \
    X(cuDevicePrimaryCtxRelease) \
    X(cuCtxSetCurrent) \
    X(cuCtxSynchronize) \
    X(cuModuleLoadDataEx) \
    X(cuModuleUnload) \
    X(cuModuleGetFunction) \
    X(cuModuleGetGlobal) \
    X(cuFuncSetAttribute) \
    X(cuFuncGetAttribute) \
    X(cuLaunchKernel) \
    X(cuLaunchKernelEx) \
    X(cuOccupancyMaxActiveClusters) \
    X(cuMemAlloc) \
    X(cuMemFree) \
    X(cuMemGetInfo) \
    X(cuMemcpyHtoD) \
    X(cuMemcpyDtoH) \
    X(cuMemcpyDtoD) \
    X(cuMemcpyHtoDAsync) \
    X(cuMemcpyDtoHAsync) \
    X(cuMemcpyDtoDAsync) \
    X(cuMemsetD8) \
    X(cuMemsetD32) \
    X(cuMemsetD8Async) \
    X(cuMemsetD32Async) \
    X(cuMemHostAlloc) \
    X(cuMemFreeHost) \
    X(cuMemHostRegister) \
    X(cuMemHostUnregister) \
    X(cuStreamCreate) \
    X(cuStreamDestroy) \
    X(cuStreamSynchronize) \
    X(cuEventCreate) \
    X(cuEventRecord) \
    X(cuEventSynchronize) \
    X(cuEventElapsedTime) \
    X(cuEventDestroy) \
    X(cuTensorMapEncodeTiled) \
    X(cuStreamBeginCapture) \
    X(cuStreamEndCapture) \
    X(cuGraphInstantiateWithFlags) \
    X(cuGraphLaunch) \
    X(cuGraphExecDestroy) \
    X(cuGraphDestroy) \
    X(cuOccupancyMaxActiveBlocksPerMultiprocessor) \

#define CU_DECLARE_PTR(fn) extern __typeof__(fn) *p_##fn;
CU_FUNCS(CU_DECLARE_PTR)

// dlopen + dlsym of every function above; 0 on success, -1 with a one-line reason (no driver, old driver).
int cu_load(char *err, size_t errlen);

// Every driver call goes through CU_CHECK: on failure prints file:line, the call, the error's name and dies.
void cu_check_fail(CUresult r, const char *call, const char *file, int line) __attribute__((noreturn));
#define CU_CHECK(call) do { CUresult cu_r_ = (call); \
    if (cu_r_ != CUDA_SUCCESS) cu_check_fail(cu_r_, #call, __FILE__, __LINE__); } while (0)

#ifndef CU_LOADER_IMPL
// From here on, cuXxx(...) calls the loaded pointer.
#undef cuInit
#define cuInit (*p_cuInit)
#undef cuDriverGetVersion
#define cuDriverGetVersion (*p_cuDriverGetVersion)
#undef cuGetErrorName
#define cuGetErrorName (*p_cuGetErrorName)
#undef cuGetErrorString
#define cuGetErrorString (*p_cuGetErrorString)
#undef cuDeviceGet
#define cuDeviceGet (*p_cuDeviceGet)
#undef cuDeviceGetCount
#define cuDeviceGetCount (*p_cuDeviceGetCount)
#undef cuDeviceGetName
#define cuDeviceGetName (*p_cuDeviceGetName)
#undef cuDeviceGetAttribute
#define cuDeviceGetAttribute (*p_cuDeviceGetAttribute)
#undef cuDeviceTotalMem
#define cuDeviceTotalMem (*p_cuDeviceTotalMem)
#undef cuDevicePrimaryCtxRetain
#define cuDevicePrimaryCtxRetain (*p_cuDevicePrimaryCtxRetain)
#undef cuDevicePrimaryCtxRelease
#define cuDevicePrimaryCtxRelease (*p_cuDevicePrimaryCtxRelease)
#undef cuCtxSetCurrent
#define cuCtxSetCurrent (*p_cuCtxSetCurrent)
#undef cuCtxSynchronize
#define cuCtxSynchronize (*p_cuCtxSynchronize)
#undef cuModuleLoadDataEx
#define cuModuleLoadDataEx (*p_cuModuleLoadDataEx)
#undef cuModuleUnload
#define cuModuleUnload (*p_cuModuleUnload)
#undef cuModuleGetFunction
#define cuModuleGetFunction (*p_cuModuleGetFunction)
#undef cuModuleGetGlobal
#define cuModuleGetGlobal (*p_cuModuleGetGlobal)
#undef cuFuncSetAttribute
#define cuFuncSetAttribute (*p_cuFuncSetAttribute)
#undef cuFuncGetAttribute
#define cuFuncGetAttribute (*p_cuFuncGetAttribute)
#undef cuLaunchKernel
#define cuLaunchKernel (*p_cuLaunchKernel)
#undef cuLaunchKernelEx
#define cuLaunchKernelEx (*p_cuLaunchKernelEx)
#undef cuOccupancyMaxActiveClusters
#define cuOccupancyMaxActiveClusters (*p_cuOccupancyMaxActiveClusters)
#undef cuMemAlloc
#define cuMemAlloc (*p_cuMemAlloc)
#undef cuMemFree
#define cuMemFree (*p_cuMemFree)
#undef cuMemGetInfo
#define cuMemGetInfo (*p_cuMemGetInfo)
#undef cuMemcpyHtoD
#define cuMemcpyHtoD (*p_cuMemcpyHtoD)
#undef cuMemcpyDtoH
#define cuMemcpyDtoH (*p_cuMemcpyDtoH)
#undef cuMemcpyDtoD
#define cuMemcpyDtoD (*p_cuMemcpyDtoD)
#undef cuMemcpyHtoDAsync
#define cuMemcpyHtoDAsync (*p_cuMemcpyHtoDAsync)
#undef cuMemcpyDtoHAsync
#define cuMemcpyDtoHAsync (*p_cuMemcpyDtoHAsync)
#undef cuMemcpyDtoDAsync
#define cuMemcpyDtoDAsync (*p_cuMemcpyDtoDAsync)
#undef cuMemsetD8
#define cuMemsetD8 (*p_cuMemsetD8)
#undef cuMemsetD32
#define cuMemsetD32 (*p_cuMemsetD32)
#undef cuMemsetD8Async
#define cuMemsetD8Async (*p_cuMemsetD8Async)
#undef cuMemsetD32Async
#define cuMemsetD32Async (*p_cuMemsetD32Async)
#undef cuMemHostAlloc
#define cuMemHostAlloc (*p_cuMemHostAlloc)
#undef cuMemFreeHost
#define cuMemFreeHost (*p_cuMemFreeHost)
#undef cuMemHostRegister
#define cuMemHostRegister (*p_cuMemHostRegister)
#undef cuMemHostUnregister
#define cuMemHostUnregister (*p_cuMemHostUnregister)
#undef cuStreamCreate
#define cuStreamCreate (*p_cuStreamCreate)
#undef cuStreamDestroy
#define cuStreamDestroy (*p_cuStreamDestroy)
#undef cuStreamSynchronize
#define cuStreamSynchronize (*p_cuStreamSynchronize)
#undef cuEventCreate
#define cuEventCreate (*p_cuEventCreate)
#undef cuEventRecord
#define cuEventRecord (*p_cuEventRecord)
#undef cuEventSynchronize
#define cuEventSynchronize (*p_cuEventSynchronize)
#undef cuEventElapsedTime
#define cuEventElapsedTime (*p_cuEventElapsedTime)
#undef cuEventDestroy
#define cuEventDestroy (*p_cuEventDestroy)
#undef cuTensorMapEncodeTiled
#define cuTensorMapEncodeTiled (*p_cuTensorMapEncodeTiled)
#undef cuStreamBeginCapture
#define cuStreamBeginCapture (*p_cuStreamBeginCapture)
#undef cuStreamEndCapture
#define cuStreamEndCapture (*p_cuStreamEndCapture)
#undef cuGraphInstantiateWithFlags
#define cuGraphInstantiateWithFlags (*p_cuGraphInstantiateWithFlags)
#undef cuGraphLaunch
#define cuGraphLaunch (*p_cuGraphLaunch)
#undef cuGraphExecDestroy
#define cuGraphExecDestroy (*p_cuGraphExecDestroy)
#undef cuGraphDestroy
#define cuGraphDestroy (*p_cuGraphDestroy)
#undef cuOccupancyMaxActiveBlocksPerMultiprocessor
#define cuOccupancyMaxActiveBlocksPerMultiprocessor (*p_cuOccupancyMaxActiveBlocksPerMultiprocessor)
#endif
