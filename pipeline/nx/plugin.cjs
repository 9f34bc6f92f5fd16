// Nx loads plugins with require(); the graph itself is TypeScript, loaded through tsx.
const { pathToFileURL } = require('node:url');

module.exports = {
  name: 'superposition-pipeline',
  createNodes: [
    'experiment.json',
    async (files, _options, context) => {
      const { tsImport } = await import('tsx/esm/api');
      const { buildGraph } = await tsImport('./graph.ts', pathToFileURL(__filename).href);
      return files.map((file) => [file, { projects: buildGraph(context.workspaceRoot, file) }]);
    },
  ],
};
